"""Benchmarks: the golden model against its peers (NEST, Brian2), run in the same script; the Verilator
device (`verilator.py`); the UART link (`link.py`); a board on a network (`board.py`).

Kept apart from the tests; `lifstp bench golden|verilator|link|board` runs them. The peers run in
their own virtual environments (`peer_envs.py`), with the scripts in `bench/peers/`.
"""

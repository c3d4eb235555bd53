"""Benchmarks: the golden model against its peers (NEST, Brian2), run in the same script.

Kept apart from the tests; `lifstp bench golden` runs them and prints ratios. The peers run in their
own virtual environments (`peer_envs.py`), with the scripts in `bench/peers/`.
"""

"""Simulation of the RTL against the golden model (docs/core.md, "Verification").

`build` (Verilog generation, cached cocotb builds, running testbenches), `program` (the writes and
reads that map a golden model onto the core), `cases` (random test networks), `cocotb_host` and
`amaranth_host` (port drivers), `tb_equivalence` / `tb_cycles` (cocotb testbenches),
`measure_cycles` (the cycles-per-tick table of docs/core.md), `harness` (the compiled Verilator
harness), `gate_level` (the board top levels synthesised and simulated with Yosys's cell models,
docs/boards.md).
"""

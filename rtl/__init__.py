"""The lifstp core in Amaranth 0.5 (docs/core.md).

`config` (elaboration parameters, port layouts, register map), `arith` (rnd, sat), `xorshift` (noise),
`stp` (resource R), `neuron` (one neuron's tick: the membrane update), `delivery` (spike queue, row
scheduler, per-event accumulate), `lane` (one lane: memories, weight bank, update unit, memory-port
choice), `sequencer` (the control FSM), `registers` (global registers), `host_read` (a read's answer),
`status` (the core's counters), `core` (the parts wired, the pipelines' timing, ports).
"""

"""The lifstp core in Amaranth 0.5 (docs/core.md).

`config` (elaboration parameters, port layouts, register map), `arith` (rnd, sat), `xorshift` (noise),
`stp` (resource R), `neuron` (one neuron's tick: the membrane update), `delivery` (spike queue, row
scheduler, per-event accumulate), `core` (memories, pipelines, control, ports).
"""

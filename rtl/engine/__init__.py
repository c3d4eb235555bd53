"""The command engine: the wire protocol (docs/protocol.md) in gateware, in front of the core.

Receive path (`cobs.FrameReceiver`: COBS decoding into a frame buffer, CRC check), executor
(`commands.Executor`: one FSM per command onto the core's write/read ports, with `decode.CommandDecoder`,
`limits.ValueCheck`, `counters.EngineCounters` and `reply.ReplyBytes`), run control and spike
encoder (`spikes.SpikeEncoder`), transmit path (`cobs.FrameTransmitter`: CRC, COBS encoding,
delimiter). `engine.Engine` wires them; `lifstp.rtl.device_top.DeviceTop` adds the core.
`cycles` counts the cycles of a run from the RTL. See docs/engine.md.
"""

from .engine import Engine

__all__ = ["Engine"]

"""Board top levels: the UART, a device (command engine + core) and the LEDs, for each supported board.

Each board names its amaranth-boards platform, its oscillator, the LEDs that show "alive" (a heartbeat
blink) and "running" (the device is busy), and the default baud rate: the fastest its FTDI bridge
carries reliably at a clock divisor that the UART can hit within 2 %.
"""

from dataclasses import dataclass

from amaranth import ClockDomain, Const, Elaboratable, Instance, Module, Signal
from amaranth.lib import io, wiring
from amaranth.lib.cdc import ResetSynchronizer
from amaranth.lib.fifo import SyncFIFOBuffered

from .uart import UARTRx, UARTTx, divisor_for


@dataclass(frozen=True)
class Board:
    """A supported board."""

    name: str
    platform: str  #: "module:Class" in amaranth_boards
    clk_hz: float  #: the board's oscillator
    default_baud: int
    alive_led: tuple[str, int]  #: (resource, number)
    busy_led: tuple[str, int]
    programmer_board: str  #: openFPGALoader's -b name
    bitstream_ext: str
    family: str  #: "ice40" or "ecp5"
    default_neurons: int  #: the largest N that fits at the target clock (docs/boards.md)
    default_lanes: int
    synth_opts: str = ""  #: extra options of Yosys's synth_<family>
    #: the core's lanes update their neurons on one shared multiplier (`CoreConfig.shared_multiplier`):
    #: for devices with too few DSP blocks for the full-throughput pipeline
    shared_multiplier: bool = False
    #: the engine's states readout (`CoreConfig.states_readout`); the iCE40UP5K has no logic left for it
    states_readout: bool = True
    #: PLL dividers that clock the design from the oscillator; None: the oscillator clocks the design.
    #: ECP5 EHXPLLL (CLKI_DIV, CLKFB_DIV, CLKOP_DIV): output clk_hz / CLKI_DIV * CLKFB_DIV, the VCO
    #: (output * CLKOP_DIV) in 400..800 MHz. iCE40 SB_PLL40_PAD in simple feedback (DIVR, DIVF, DIVQ):
    #: output clk_hz * (DIVF + 1) / (DIVR + 1) / 2^DIVQ, the VCO (output * 2^DIVQ) in 533..1066 MHz.
    pll: tuple[int, int, int] | None = None
    #: the core's fixed-point formats, a name of `spec.FORMAT_PRESETS`
    default_formats: str = "default"
    #: the lanes' neuron fields in block RAM (`CoreConfig.fields_in_block_ram`)
    fields_in_block_ram: bool = False

    @property
    def sys_clk_hz(self) -> float:
        """The clock the design runs at (the UART divisor and the timing target are taken from it)."""
        if self.pll is None:
            return self.clk_hz
        if self.family == "ice40":
            divr, divf, divq = self.pll
            return self.clk_hz * (divf + 1) / (divr + 1) / 2 ** divq
        clki_div, clkfb_div, _ = self.pll
        return self.clk_hz / clki_div * clkfb_div

    def config(self, n_neurons: int | None = None, lanes: int | None = None, formats: str | None = None):
        """The `CoreConfig` of the core this board builds: N, L and the formats (a preset's name)
        default to the board's."""
        from lifstp.golden_model.spec import format_preset
        from lifstp.rtl.config import CoreConfig

        return CoreConfig(n_neurons or self.default_neurons, lanes or self.default_lanes,
                          formats=format_preset(formats or self.default_formats),
                          shared_multiplier=self.shared_multiplier, states_readout=self.states_readout,
                          fields_in_block_ram=self.fields_in_block_ram)

    def device(self, n_neurons: int | None = None, lanes: int | None = None, formats: str | None = None):
        """The device (command engine + core) this board builds (`config`'s core)."""
        from lifstp.rtl.device_top import DeviceTop

        return DeviceTop(self.config(n_neurons, lanes, formats))


BOARDS = {
    # iCEBreaker: 12 MHz oscillator, FT2232H. The PLL makes 15 MHz (12 * 80 / 64, VCO 960 MHz): the
    # design reaches 16.1 MHz, and 3 Mbaud is divisor 5 of 15 MHz exactly.
    # synth_opts -dsp: multiplications go to the 8 SB_MAC16 (without it Yosys builds them from LUTs,
    # which takes over 10 minutes and does not fit either). The weights live in SPRAM (BoardTop).
    # N = 256, L = 1 (shared multiplier): 95 % of the logic cells (docs/boards.md); N = 512 needs 16
    # SPRAM blocks (the device has 4), L = 2 twelve SB_MAC16 (it has 8).
    "icebreaker": Board("icebreaker", "amaranth_boards.icebreaker:ICEBreakerPlatform", 12e6, 3_000_000,
                        ("led_g", 0), ("led_r", 0), "ice40_generic", "bin", "ice40", 256, 1, synth_opts="-dsp",
                        shared_multiplier=True, pll=(0, 79, 6), states_readout=False),
    # ULX3S-85F: 25 MHz oscillator, FT231X (3 Mbaud maximum). The PLL makes 45 MHz (25 / 5 * 9, VCO
    # 45 * 13 = 585 MHz), where 3 Mbaud is divisor 15 exactly (from 25 MHz only 1 Mbaud is within 2 %).
    # N = 256, L = 8 at the dsp18 formats (every product on one MULT18X18D: 57 of 156), the neuron
    # fields in block RAM (in LUT RAM, Yosys's choice at M = 32, nextpnr did not finish routing):
    # 149 of 208 DP16KD (docs/boards.md, "More lanes on the ECP5"). At the default
    # formats a lane takes ~21 multipliers (L <= 4, the default until 2026-12-02).
    "ulx3s-85f": Board("ulx3s-85f", "amaranth_boards.ulx3s:ULX3S_85F_Platform", 25e6, 3_000_000,
                       ("led", 0), ("led", 1), "ulx3s", "bit", "ecp5", 256, 8, pll=(5, 9, 13),
                       default_formats="dsp18", fields_in_block_ram=True),
}


def board(name: str) -> Board:
    if name not in BOARDS:
        raise ValueError(f"unknown board {name!r}; supported: {', '.join(BOARDS)}")
    return BOARDS[name]


def platform_for(b: Board):
    import importlib

    module, cls = b.platform.split(":")
    return getattr(importlib.import_module(module), cls)()


#: Bytes the UART bridge buffers from the line while the command engine executes a frame (it takes no
#: input then): one iCE40 block RAM, several frames' worth of the bytes that arrive meanwhile.
RX_FIFO_DEPTH = 512


class UARTBridge(wiring.Component):
    """A device behind a UART: serial lines in and out, the device's byte streams in between, with a
    receive FIFO so that no byte is lost while the engine is busy (overruns are counted by UARTRx)."""

    def __init__(self, device, divisor: int):
        self.device = device
        self.divisor = divisor
        super().__init__({
            "rx": wiring.In(1, init=1),  #: serial line from the host
            "tx": wiring.Out(1, init=1),  #: serial line to the host
            "busy": wiring.Out(1),  #: the device is executing a command or a run
            "idle": wiring.Out(1),  #: nothing in progress and nothing buffered (for simulation harnesses)
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.device = self.device
        m.submodules.uart_rx = urx = UARTRx(self.divisor)
        m.submodules.uart_tx = utx = UARTTx(self.divisor)
        m.submodules.rx_fifo = fifo = SyncFIFOBuffered(width=8, depth=RX_FIFO_DEPTH)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx), self.busy.eq(~self.device.idle),
                     self.idle.eq(self.device.idle & ~fifo.r_rdy & utx.data.ready)]
        wiring.connect(m, urx.data, fifo.w_stream)
        wiring.connect(m, fifo.r_stream, self.device.rx)
        wiring.connect(m, self.device.tx, utx.data)
        return m


class BoardTop(Elaboratable):
    """The whole design on a board: UART bridge to the device, heartbeat and busy LEDs.

    ``clock_from_pll=False`` (gate-level simulation, sim/gate_level.py) takes the sync domain straight
    from the oscillator's pin instead of the board's PLL, which has no simulation model: the simulator
    drives that pin at the PLL's rate, so the UART divisor stays the board's."""

    def __init__(self, b: Board, device, baud: int | None = None, clock_from_pll: bool = True):
        if b.family == "ice40" and getattr(device, "weight_bank", False) is None:
            # iCE40UP5K: the weight banks go to the SPRAM blocks (the neuron state stays in block RAM).
            from .spram import SPRAMWeightBank
            device.weight_bank = SPRAMWeightBank
        self.board = b
        self.baud = baud or b.default_baud
        self.clock_from_pll = clock_from_pll
        self.bridge = UARTBridge(device, divisor_for(b.sys_clk_hz, self.baud))

    def elaborate(self, platform):
        m = Module()
        if self.board.pll is not None and not self.clock_from_pll:
            self._clock_pin(m, platform)
        elif self.board.pll is not None:
            (self._pll_ice40 if self.board.family == "ice40" else self._pll)(m, platform)
        m.submodules.bridge = self.bridge
        uart = platform.request("uart", 0, dir="-")
        m.submodules.uart_rx_pin = rx_pin = io.Buffer("i", uart.rx)
        m.submodules.uart_tx_pin = tx_pin = io.Buffer("o", uart.tx)
        m.d.comb += [self.bridge.rx.eq(rx_pin.i), tx_pin.o.eq(self.bridge.tx)]
        # Heartbeat: the top bit of a free-running counter, a blink of about a second (no comparator).
        heartbeat = Signal(int(self.board.sys_clk_hz).bit_length())
        m.d.sync += heartbeat.eq(heartbeat + 1)
        m.submodules.alive_led = alive = io.Buffer("o", platform.request(*self.board.alive_led, dir="-"))
        m.submodules.busy_led = busy = io.Buffer("o", platform.request(*self.board.busy_led, dir="-"))
        m.d.comb += [alive.o.eq(heartbeat[-1]), busy.o.eq(self.bridge.busy)]
        return m

    def _clock_pin(self, m, platform):
        """The sync domain from the oscillator's pin in place of the PLL, reset as by a PLL that is
        locked from the start."""
        m.domains.sync = sync = ClockDomain("sync")
        m.submodules.clk_in = clk_in = io.Buffer("i", platform.request(platform.default_clk, dir="-"))
        m.d.comb += sync.clk.eq(clk_in.i)
        m.submodules.reset_sync = ResetSynchronizer(Const(0), domain="sync")

    def _pll_ice40(self, m, platform):
        """The sync domain from an iCE40 SB_PLL40_PAD on the oscillator's pin (simple feedback), held in
        reset until the PLL locks."""
        divr, divf, divq = self.board.pll
        m.domains.sync = sync = ClockDomain("sync")
        pin = platform.request(platform.default_clk, dir="-")  # the PLL takes the pad itself
        # (nextpnr derives the output clock's constraint from the pad's through the PLL)
        locked = Signal()
        m.submodules.pll = Instance(
            "SB_PLL40_PAD",
            p_FEEDBACK_PATH="SIMPLE", p_DIVR=divr, p_DIVF=divf, p_DIVQ=divq,
            p_FILTER_RANGE=1,  # for a 10..19 MHz reference (12 MHz / (DIVR + 1))
            i_PACKAGEPIN=pin.io, i_RESETB=1, i_BYPASS=0, o_PLLOUTGLOBAL=sync.clk, o_LOCK=locked,
        )
        m.submodules.reset_sync = ResetSynchronizer(~locked, domain="sync")

    def _pll(self, m, platform):
        """The sync domain from an ECP5 EHXPLLL (feedback from CLKOP, the usual configuration of
        nextpnr's ecppll), held in reset until the PLL locks."""
        clki_div, clkfb_div, clkop_div = self.board.pll
        mhz = self.board.sys_clk_hz / 1e6
        m.domains.sync = sync = ClockDomain("sync")
        m.submodules.clk_in = clk_in = io.Buffer("i", platform.request(platform.default_clk, dir="-"))
        locked = Signal()
        m.submodules.pll = Instance(
            "EHXPLLL",
            a_FREQUENCY_PIN_CLKI=f"{self.board.clk_hz / 1e6:g}", a_FREQUENCY_PIN_CLKOP=f"{mhz:g}",
            a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
            p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD", p_CLKI_DIV=clki_div, p_CLKOP_ENABLE="ENABLED",
            p_CLKOP_DIV=clkop_div, p_CLKOP_CPHASE=clkop_div // 2 - 1, p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP",
            p_CLKFB_DIV=clkfb_div,
            i_RST=0, i_STDBY=0, i_CLKI=clk_in.i, o_CLKOP=sync.clk, i_CLKFB=sync.clk, i_PHASESEL0=0,
            i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1, i_PLLWAKESYNC=0, i_ENCLKOP=0,
            o_LOCK=locked,
        )
        # nextpnr derives the output clock's constraint from the oscillator's through the PLL
        m.submodules.reset_sync = ResetSynchronizer(~locked, domain="sync")

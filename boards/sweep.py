"""Build a board's bitstream for several core sizes, one after the other, and print a Markdown table of
utilisation and achieved clock (the table of docs/boards.md).

    python -m lifstp.boards.sweep --board ulx3s-85f --configs 64x1,256x1,256x4 [--out build/sweep]

A configuration that does not fit (the placer refuses it) or misses the board's clock is listed with
the reason; the sweep goes on.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from .build import REPORTED, BuildError, build
from .top import board


def run(board_name: str, n: int, lanes: int, out: Path) -> dict:
    b = board(board_name)
    folder = out / f"{b.name}-{n}x{lanes}"
    t0 = time.perf_counter()
    row = {"board": b.name, "N": n, "L": lanes, "target_mhz": b.sys_clk_hz / 1e6}
    try:
        rep = build(b, b.device(n, lanes), folder, log=lambda *_: None)
        row.update(ok=True, util=rep.utilisation, fmax=min(rep.fmax_mhz.values()), note="fits, timing met")
    except BuildError as exc:
        row.update(ok=False, note=str(exc).splitlines()[0][:300])
        report = folder / "report.json"
        if report.exists():
            data = json.loads(report.read_text())
            row["util"] = {k: (v["used"], v["available"]) for k, v in data.get("utilization", {}).items()
                           if k in REPORTED[b.family]}
            fm = [v["achieved"] for v in data.get("fmax", {}).values()]
            row["fmax"] = min(fm) if fm else None
    row["wall_s"] = round(time.perf_counter() - t0, 1)
    return row


def table(rows: list[dict]) -> str:
    lines = ["| board | N | L | LUT | FF | RAM | SPRAM | DSP | Fmax (MHz) | target | result | build time |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        u = r.get("util", {})

        def cell(*names):
            for name in names:
                if name in u:
                    return f"{u[name][0]}/{u[name][1]}"
            return "–"
        fmax = f"{r['fmax']:.1f}" if r.get("fmax") else "–"
        lines.append(f"| {r['board']} | {r['N']} | {r['L']} | {cell('ICESTORM_LC', 'TRELLIS_COMB')} | "
                     f"{cell('TRELLIS_FF')} | {cell('ICESTORM_RAM', 'DP16KD')} | {cell('ICESTORM_SPRAM')} | "
                     f"{cell('ICESTORM_DSP', 'MULT18X18D')} | {fmax} | {r['target_mhz']:g} | {r['note']} | "
                     f"{r['wall_s']:.0f} s |")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", required=True)
    ap.add_argument("--configs", required=True, help="NxL,NxL,...")
    ap.add_argument("--out", default="build/sweep")
    ap.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = ap.parse_args(argv)
    rows = []
    for item in args.configs.split(","):
        n, lanes = (int(x) for x in item.split("x"))
        rows.append(run(args.board, n, lanes, Path(args.out)))
        print(json.dumps(rows[-1]), flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1))
    print(table(rows))


if __name__ == "__main__":
    main()

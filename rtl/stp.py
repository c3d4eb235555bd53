"""The Tsodyks-Markram resource counter R of one neuron (docs/model.md, "One tick", steps 2 and 5):
recovery toward 1 every tick, the efficacy a spike carries, and depletion after a spike."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Value, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from lifstp.golden_model.spec import Formats

from .arith import rnd

__all__ = ["recover", "efficacy", "deplete", "StpResource"]


def recover(r: Value, kappa_rec: Value, fmt: Formats) -> Value:
    """R + rnd((ONE_R - R) * kappa_rec, frac_k)."""
    return r + rnd((fmt.r_one - r) * kappa_rec, fmt.frac_k)


def efficacy(r: Value, fmt: Formats, truncate: bool = False) -> Value:
    """e = rnd(R, frac_r - frac_e), the efficacy sent with a spike (truncate: mutation test only)."""
    s = fmt.frac_r - fmt.frac_e
    return (r >> s) if truncate else rnd(r, s)


def deplete(r: Value, stp_u: Value, fmt: Formats) -> Value:
    """R - rnd(R * U, frac_r)."""
    return r - rnd(r * stp_u, fmt.frac_r)


class StpResource(wiring.Component):
    """Combinational: one tick of one neuron's resource, given whether it fires.

    Ports: ``res`` (In) R before the tick; ``kappa_rec`` (In) the recovery increment; ``stp_u`` (In) U;
    ``fire`` (In) the neuron spikes this tick; ``res_next`` (Out) R after recovery and, on a spike,
    depletion; ``eff`` (Out) the efficacy e the spike carries (R after recovery, rounded to frac_e).
    """

    def __init__(self, fmt: Formats):
        self.fmt = fmt
        super().__init__({
            "res": In(unsigned(fmt.frac_r + 1)),
            "kappa_rec": In(unsigned(fmt.frac_k)),
            "stp_u": In(unsigned(fmt.frac_r + 1)),
            "fire": In(1),
            "res_next": Out(unsigned(fmt.frac_r + 1)),
            "eff": Out(unsigned(fmt.frac_e + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        r = recover(self.res, self.kappa_rec, self.fmt)
        m.d.comb += [
            self.eff.eq(efficacy(r, self.fmt)),
            self.res_next.eq(Mux(self.fire, deplete(r, self.stp_u, self.fmt), r)),
        ]
        return m

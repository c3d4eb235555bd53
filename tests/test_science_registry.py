"""The sampler registry and the fidelity measures: names resolve to what they say, bad names and
temperatures are refused, and the fidelity measures give known values on constructed samples."""

from __future__ import annotations

import numpy as np
import pytest

from lifstp.errors import InputError
from lifstp.science.measures import fidelity
from lifstp.science.samplers import sampler
from lifstp.science.spiking import PAPER_STP


def test_registry_resolves_names():
    g = sampler("gibbs100_b0.8")
    assert (g.family, g.sweeps_per_sample, g.beta) == ("gibbs", 100, 0.8)
    assert sampler("gibbs").sweeps_per_sample == 1 and sampler("gibbs").beta == 1.0
    assert sampler("lif").fit == "own" and sampler("lif").stp is None
    assert sampler("lif_unfitted").fit == "none"
    heated = sampler("lif_b0.9")
    assert heated.beta == 0.9 and heated.fit == "renewing" and heated.stp is None
    assert sampler("lif_stp", stp=(0.2, 100.0)).stp == (0.2, 100.0) and sampler("lif_stp").fit == "own"
    assert sampler("lif_stp_norefit").fit == "renewing"
    assert sampler("lif_stp_paper").stp == PAPER_STP and sampler("lif_stp_paper").fit == "renewing"
    assert "W and b × 0.9" in heated.describe() and "no refit" in sampler("lif_stp_paper").describe()


@pytest.mark.parametrize("name,match", [("metropolis", "unknown sampler"), ("gibbs0", "unknown sampler"),
                                        ("gibbs10_b1.5", "inverse temperature"), ("lif_b0", "inverse temperature"),
                                        ("lif_b1", "inverse temperature"), ("gibbs100_b0.8.1", "unknown sampler"),
                                        ("lif_b.", "unknown sampler")])
def test_registry_refuses(name, match):
    with pytest.raises(InputError, match=match):
        sampler(name)


def test_registry_checks_stp_with_one_rule():
    for stp in ((-0.1, 280.0), (1.5, 280.0), (float("nan"), 280.0), (0.1, 0.0)):
        with pytest.raises(InputError):
            sampler("lif", stp=stp)


def test_fidelity_measures_known_values():
    rng = np.random.default_rng(0)
    ref = (rng.random((20_000, 6)) < 0.3).astype(np.uint8)  # 4 pixels, 2 label units
    same = fidelity(ref, ref, n_pixels=4)
    assert same.marginal_mae == 0 and same.pair_cov_mae == 0
    assert same.label_one_hot == pytest.approx(2 * 0.3 * 0.7, abs=0.02)
    shifted = ref.copy()
    shifted[:, 0] = 1  # unit 0 always on: its mean moves by 0.7, its covariances vanish
    f = fidelity(shifted, ref, n_pixels=4)
    assert f.marginal_mae == pytest.approx((1 - ref[:, 0].mean()) / 6, rel=1e-9)
    assert f.pair_cov_mae > 0
    onehot = np.zeros((10, 6), np.uint8)
    onehot[:, 4] = 1
    assert fidelity(onehot, ref[:10], n_pixels=4).label_one_hot == 1.0
    with pytest.raises(InputError):
        fidelity(ref[:, :5], ref, n_pixels=4)


def _row(switches, isl, tv):
    spread = lambda x: {"mean": x, "std": 0.0, "values": [x]}  # noqa: E731
    return {"confident_switches_per_1000": spread(switches), "isl@1000": spread(isl), "tv_to_model": spread(tv)}


def test_depression_verdict_against_the_best_matched_heated_control():
    from lifstp.science.experiments import depression_verdict

    # A heated control switching at least as often and better on both: depression does not help.
    summary = {"lif_stp": _row(50, -25.0, 0.10), "gibbs100_b0.9": _row(60, -24.0, 0.08), "lif_b0.8": _row(20, -20.0, 0.01)}
    assert "does not help" in depression_verdict(summary) and "gibbs100_b0.9" in depression_verdict(summary)
    # lif_b0.8 is better but switches less: not a matched control, so depression helps.
    summary["gibbs100_b0.9"] = _row(60, -26.0, 0.20)
    assert "helps here" in depression_verdict(summary)
    # No control switches as often: compared with the fastest one, and said so.
    summary = {"lif_stp": _row(50, -25.0, 0.10), "lif_b0.8": _row(20, -26.0, 0.30)}
    text = depression_verdict(summary)
    assert "highest available" in text and "helps here" in text
    assert "No heated control" in depression_verdict({"lif_stp": _row(50, -25.0, 0.1), "lif": _row(10, -30.0, 0.5)})


def test_spread_gives_the_t_interval():
    from lifstp.science.experiments import _spread

    s = _spread([1.0, 2.0, 3.0])
    assert s["mean"] == 2.0 and s["std"] == 1.0
    assert s["ci95"] == pytest.approx(4.3027 / np.sqrt(3), rel=1e-4)  # t(0.975, 2 dof) = 4.3027
    assert _spread([5.0])["ci95"] == 0.0


def test_every_sampler_states_its_cost():
    for name in ("gibbs100", "ast", "lif", "lif_stp_paper"):
        assert "multiply-adds" in sampler(name).cost() or "synaptic events" in sampler(name).cost()


def test_summary_json_round_trip():
    from lifstp.science.measures import Fidelity, SamplerSummary

    s = SamplerSummary(10, 100, 1000, 5000, None, 0.5, 3.0, 2.0, 2.5, 4e5, 6.0, 0.8, 4, 3, [0.1] * 10, {100: -30.0},
                       {"model": 0.2, "train": 0.3}, Fidelity(0.01, 0.002, 0.9), "d", {"ticks": 5})
    back = SamplerSummary.from_json(s.to_json())
    assert back == s and back.value("isl@100") == -30.0 and back.value("tv_to_model") == 0.2
    assert back.value("marginal_mae") == 0.01 and back.value("nonsense") is None

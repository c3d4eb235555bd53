"""The soak and campaign checks (`lifstp verify`) on a few networks: the compiled RTL agrees with the
golden model on freshly drawn networks, and a core with a deliberate arithmetic fault is caught."""

from __future__ import annotations

import pytest

from lifstp.cli import main
from lifstp.rtl.config import CoreConfig
from lifstp.sim.campaign import campaign, soak

#: A small core, already built by the other Verilator tests (the harness cache is shared).
SMALL = CoreConfig(8, 1)


def test_campaign_of_fresh_networks_agrees():
    result = campaign(6, 400, seed=20261202, configs={"N=8 L=1": (SMALL, 1)}, show_progress=False)
    assert result.networks == 6 and result.ticks == 2400 and result.comparisons == 6
    assert result.spikes > 0
    assert result.mismatches == 0, result.first_failures


def test_campaign_catches_a_faulty_core():
    faulty = CoreConfig(8, 1, mutation="leak_round")
    result = campaign(4, 400, seed=20261202, configs={"faulty": (faulty, 1)}, show_progress=False)
    assert result.mismatches >= 1 and result.per_config["faulty"]["mismatches"] == result.mismatches
    assert any("differ" in d for f in result.first_failures for d in f["differences"])


def test_soak_compares_every_chunk():
    result = soak(3000, seed=5, cfg=SMALL, chunk_ticks=1000, show_progress=False)
    assert result.ticks == 3000 and result.comparisons == 3 and result.spikes > 0
    assert result.mismatches == 0, result.first_failures


def test_verify_command_refuses_bad_arguments(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["verify", "campaign", "--networks", "0"])
    assert main(["verify", "soak", "--ticks", "10", "--out", str(tmp_path / "missing" / "r.json")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_campaign_covers_every_board_core_and_lane_count():
    from lifstp.boards.top import BOARDS
    from lifstp.sim.campaign import campaign_configs

    configs = campaign_configs()
    cfgs = [cfg for cfg, share in configs.values() if share >= 1]
    for b in BOARDS.values():
        assert b.config() in cfgs
    assert {c.lanes for c in cfgs} >= {1, 2, 4} and any(c.shared_multiplier for c in cfgs)

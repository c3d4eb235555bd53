"""The README's NIR example ("From PyNN / NIR", "### NIR") runs as printed, and the file it writes runs
through `lifstp nir run` to the same spikes as the example's own run."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from lifstp.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"


def nir_example() -> str:
    """The first python block of the README's "### NIR" subsection."""
    text = README.read_text()
    section = text.split("\n### NIR\n", 1)[1]
    section = re.split(r"\n#{2,3} ", section, maxsplit=1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_nir_example_runs(tmp_path, monkeypatch, capsys):
    code = nir_example()
    assert 8 <= len(code.strip().splitlines()) <= 16
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md (### NIR)", "exec"), scope)
    run, n = scope["run"], scope["n"]
    assert run.spike_tick.size > 0 and set(np.unique(run.spike_neuron)) <= set(range(n))
    assert "spikes from" in capsys.readouterr().out
    assert main(["nir", "run", "net.nir", "--duration-ms", "1000", "--seed", "1", "--out", "run.npz"]) == 0
    with np.load("run.npz") as cli_run:
        np.testing.assert_array_equal(cli_run["spike_tick"], run.spike_tick)
        np.testing.assert_array_equal(cli_run["spike_neuron"], run.spike_neuron)

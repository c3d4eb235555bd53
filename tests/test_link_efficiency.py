"""Bulk weight upload over the simulated UART uses at least 90 % of the line rate for payload."""

from __future__ import annotations

import io

from lifstp.bench.link import run_link_bench


def test_weight_upload_reaches_90_percent_of_the_line():
    out = io.StringIO()
    code = run_link_bench(n_neurons=32, out=out)
    text = out.getvalue()
    line = [x for x in text.splitlines() if x.startswith("link:")][0]
    fields = dict(item.split("=") for item in line.split()[1:])
    assert float(fields["upload_efficiency"]) >= 0.90, text
    assert float(fields["readback_efficiency"]) > 0.05, text
    assert code == 0

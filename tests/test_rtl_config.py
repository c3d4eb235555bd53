"""Bad core configurations fail at elaboration with an error naming the parameter."""

from __future__ import annotations

import pytest
from amaranth.back import rtlil

from lifstp.golden_model.spec import REGISTER_NAMES, Formats
from lifstp.rtl.config import ConfigError, CoreConfig, register_shapes
from lifstp.rtl.core import Core


@pytest.mark.parametrize("kwargs,word", [
    ({"n_neurons": 0}, "n_neurons"),
    ({"n_neurons": -3}, "n_neurons"),
    ({"n_neurons": 2.5}, "n_neurons"),
    ({"n_neurons": (1 << 20) + 1}, "n_neurons"),
    ({"n_neurons": 8, "lanes": 3}, "lanes"),
    ({"n_neurons": 8, "lanes": 0}, "lanes"),
    ({"n_neurons": 6, "lanes": 4}, "lanes"),
    ({"n_neurons": 8, "formats": "default"}, "formats"),
    ({"n_neurons": 8, "tick_width": 4}, "tick_width"),
    ({"n_neurons": 8, "counter_width": 65}, "counter_width"),
    ({"n_neurons": 8, "mutation": "nonsense"}, "mutation"),
    ({"n_neurons": 8, "formats": Formats(width_ref=70)}, "formats"),
])
def test_bad_configuration_names_the_parameter(kwargs, word):
    with pytest.raises(ConfigError, match=word):
        CoreConfig(**kwargs)


def test_register_layout_follows_the_spec():
    shapes = register_shapes(Formats())
    assert tuple(shapes) == REGISTER_NAMES


def test_acc_never_narrower_than_the_exact_bound():
    for n in (1, 2, 3, 64, 1000):
        cfg = CoreConfig(n)
        fmt = cfg.formats
        half = 1 << (fmt.event_shift - 1)
        worst_lo = n * ((fmt.w_min * (1 << fmt.frac_e) + half) >> fmt.event_shift)
        worst_hi = n * ((fmt.w_max * (1 << fmt.frac_e) + half) >> fmt.event_shift)
        assert -(1 << (cfg.acc_width - 1)) <= worst_lo and worst_hi < (1 << (cfg.acc_width - 1))


@pytest.mark.parametrize("n,lanes", [(1, 1), (3, 1), (6, 2), (2, 2)])
def test_odd_sizes_elaborate(n, lanes):
    rtlil.convert(Core(CoreConfig(n, lanes)))

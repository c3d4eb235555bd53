"""The foundation tests' comparisons, each with its tolerances in one place: two activation curves
(p_on against the leak potential: the NEST comparisons of the float model, test_nest.py, and of the
PyNN backend, test_pynn.py) and two runs' spike counts taken as independent samples (the golden model
against the float reference, test_golden_model.py, and a NIR graph's run against it, test_nir.py)."""

from __future__ import annotations

import numpy as np
from scipy.optimize import curve_fit

#: Tolerances: the fitted logistic's v_p05 (mV) and relative alpha, and every point's p_on.
V_P05_MV, ALPHA_REL, POINT = 0.06, 0.03, 0.06


def logistic(x, x0, a):
    return 1.0 / (1.0 + np.exp(-(x - x0) / a))


def assert_curves_agree(e_l: np.ndarray, p_ref: np.ndarray, p_test: np.ndarray, names=("ref", "test")) -> None:
    """Fit a logistic to each curve; v_p05, alpha and every point agree within the tolerances."""
    (x_r, a_r), _ = curve_fit(logistic, e_l, p_ref, p0=(-51.0, 1.0))
    (x_t, a_t), _ = curve_fit(logistic, e_l, p_test, p0=(-51.0, 1.0))
    print(f"{names[0]} v_p05={x_r:.4f} alpha={a_r:.4f}; {names[1]} v_p05={x_t:.4f} alpha={a_t:.4f}; "
          f"max |dp|={np.abs(p_ref - p_test).max():.4f}")
    assert abs(x_r - x_t) < V_P05_MV
    assert abs(a_r / a_t - 1) < ALPHA_REL
    assert np.abs(p_ref - p_test).max() < POINT


#: Tolerances of two runs' per-neuron spike counts: |z| of each neuron, and the relative total.
COUNT_Z, COUNT_TOTAL_REL = 5.0, 0.02


def assert_counts_agree(counts_a: np.ndarray, counts_b: np.ndarray) -> None:
    """Two runs that decorrelate (chaotic spiking) compared as independent samples: each neuron's
    z-score of the counts, and the total count."""
    a, b = np.asarray(counts_a, float), np.asarray(counts_b, float)
    z = (a - b) / np.sqrt(a + b + 1.0)
    assert np.abs(z).max() < COUNT_Z, z
    assert abs(a.sum() - b.sum()) / b.sum() < COUNT_TOTAL_REL

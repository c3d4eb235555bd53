"""lifstp: LIF sampling with short-term synaptic plasticity on an open digital core.

The host package: calibration, mapping of Boltzmann machines onto the core, devices, analysis and the
`lifstp` command line. The numerical model lives in `lifstp.golden_model`.
"""

__version__ = "0.1.0"

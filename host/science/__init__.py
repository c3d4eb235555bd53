"""Science: training Boltzmann machines on images, classical and spiking samplers, and the measures
and experiments that compare them (docs/results.md, "Science results")."""

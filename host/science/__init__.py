"""Science: training Boltzmann machines on images, classical and spiking samplers, and the measures
and experiments that compare them (science.md, experiments 2-5)."""

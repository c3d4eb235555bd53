"""The numerical model of the lifstp core, in executable form.

`spec` holds every fixed-point format and parameter of the model and the quantisation from physical
units; `rng` the background-noise generator; `fixed` the bit-exact golden model that the RTL matches;
`reference` the same equations in float64, which says what fixed point costs. The document beside it
is docs/model.md.
"""

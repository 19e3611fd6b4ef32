"""The sampler's defaults, in a module of their own so that the command line can show them in
`--help` without importing the model (start-up: issue 12)."""

#: emcee needs at least 2 walkers per dimension; more walkers explore faster per step
MIN_WALKERS, WALKERS_PER_DIM = 16, 4
DEFAULT_STEPS = 1000

"""Virtual animals: a design judged over a population, not one average mouse.

Each animal is the formulation with `model.overrides` that scale physiology and tumor parameters by
independent lognormal factors of median 1 (data/physiology_variability.yaml: a CV per parameter and
species, each with its source). Lognormal because volumes, flows and rate constants are positive and
their spreads are multiplicative (the usual choice in population PBPK, e.g. Price PS et al. 2003,
Crit Rev Toxicol 33:469). A parameter the user already overrides varies around the user's value.
Animals are reproducible: animal k of a seed is the same whatever the population size.

Physiological plausibility: an animal whose organs' residual blood would leave too little central
blood (physiology.check_blood_budget) or no 'rest' of the body is redrawn from its own stream, the
usual constraint in population PBPK generators (Willmann S et al. 2007, J Pharmacokinet
Pharmacodyn 34:401). The population is therefore the lognormal spread truncated to plausible animals.
"""

from __future__ import annotations

import math

import numpy as np

from nanocloak.library import tables as library
from nanocloak.simulation.core import resolve_formulation as resolve
from nanocloak.spec.formulation import Formulation


def spreads(species: str) -> dict[str, float]:
    """CV per parameter name for a species."""
    table = library.table("physiology_variability")
    key = next((k for k in table if library.normalise_key(k) == library.normalise_key(species)), None)
    if key is None:
        from nanocloak.errors import NanocloakError
        raise NanocloakError(f"no physiology variability for species {species!r}; known: {', '.join(table)}")
    return {name: library.value(node, f"physiology_variability.{key}.{name}") for name, node in table[key].items()}


def lognormal_sigma(cv: float) -> float:
    """sigma of ln X for a lognormal X with coefficient of variation cv (exact relation)."""
    return math.sqrt(math.log1p(cv * cv))


MAX_REDRAWS = 200


def factor_stream(species: str, seed: int, animal: int, names: list[str] | None = None):
    """Successive draws of multiplicative factors for one animal (its own random stream)."""
    cvs = spreads(species)
    chosen = [k for k in cvs if names is None or k in names]
    sigma = np.array([lognormal_sigma(cvs[name]) for name in chosen])
    rng = np.random.default_rng([seed, animal])
    while True:
        yield dict(zip(chosen, np.exp(sigma * rng.standard_normal(len(chosen))).tolist()))


def population(f: Formulation, n: int, seed: int = 0) -> list[Formulation]:
    """n copies of f, each a virtual animal (overrides on physiology and tumor parameters).

    Parameters the formulation does not have (tumor ones without a tumor) are skipped."""
    if n < 1:
        from nanocloak.errors import NanocloakError
        raise NanocloakError(f"population size must be >= 1 (got {n})")
    params = resolve(f, describe=False).params
    names = [k for k in spreads(f.subject.species) if k in params]
    base = f.model_dump(mode="python")
    return [_plausible_animal(f, base, params, factor_stream(f.subject.species, seed, k, names)) for k in range(n)]


def _plausible_animal(f: Formulation, base: dict, params, stream) -> Formulation:
    from nanocloak.errors import NanocloakError

    for _, factors in zip(range(MAX_REDRAWS), stream):
        overrides = {**base["model"]["overrides"], **{name: params[name] * x for name, x in factors.items()}}
        animal = Formulation.model_validate({**base, "model": {**base["model"], "overrides": overrides}})
        try:
            resolve(animal, describe=False)
        except NanocloakError:
            continue
        return animal
    raise NanocloakError(f"no plausible virtual animal in {MAX_REDRAWS} draws for {f.name!r}: the base physiology is at "
                         "the edge of the blood budget; check the formulation's overrides")

"""Virtual animals: reproducible, plausible, mass-conserving, centred on the average animal."""

import math

import numpy as np
import pytest

import nanocloak
from nanocloak.errors import FormulationError
from nanocloak.spec.formulation import from_dict
from nanocloak.model.parameters import resolve
from nanocloak.simulation.virtual_animals import lognormal_sigma, population, spreads

from conftest import EXAMPLES, make

BASE = nanocloak.load(next(p for p in EXAMPLES if p.name == "rbc_plga.yaml"))


def test_lognormal_sigma_gives_the_requested_cv():
    rng = np.random.default_rng(0)
    x = np.exp(lognormal_sigma(0.3) * rng.standard_normal(400_000))
    assert np.std(x) / np.mean(x) == pytest.approx(0.3, rel=0.02)


def test_animals_are_reproducible_and_independent_of_population_size():
    a = population(BASE, 3, seed=7)
    b = population(BASE, 5, seed=7)
    assert [x.model.overrides for x in a] == [x.model.overrides for x in b[:3]]
    assert a[0].model.overrides != a[1].model.overrides


def test_population_spreads_organs_and_conserves_mass():
    animals = population(BASE, 40, seed=1)
    results = nanocloak.simulate_many([a.model_copy(update={"payloads": []}) for a in animals])
    liver = np.array([r.metrics["organ_pct_id_24h"]["liver"] for r in results])
    average = nanocloak.simulate(BASE.model_copy(update={"payloads": []})).metrics["organ_pct_id_24h"]["liver"]
    assert liver.std() > 0.03 * average                      # animals differ
    assert 0.8 * average < np.median(liver) < 1.2 * average  # centred on the average animal
    assert max(r.metrics["mass_balance_error"] for r in results) < 1e-8


def test_every_spread_parameter_is_a_model_parameter():
    names = set(resolve(BASE).params.names())
    for species in ("mouse", "rat", "human"):
        assert set(spreads(species)) <= names


def test_overridden_physiology_keeps_flows_and_volumes_balanced():
    """An overridden cardiac output or organ flow rebalances 'rest', so mass is conserved."""
    for name, factor in (("cardiac_output_L_per_h", 0.6), ("liver.blood_flow_L_per_h", 1.5), ("kidney.volume_L", 0.5)):
        value = resolve(BASE).params[name] * factor
        d = BASE.model_dump(mode="python")
        d["payloads"] = []
        d["model"]["overrides"] = {name: value}
        f = from_dict(d)
        r = nanocloak.simulate(f)
        assert resolve(f).params[name] == pytest.approx(value)
        assert r.metrics["mass_balance_error"] < 1e-8


def test_derived_physiology_cannot_be_overridden():
    d = make(model={"overrides": {"rest.blood_flow_L_per_h": 0.1}})
    with pytest.raises(FormulationError, match="rest.blood_flow_L_per_h.*derived"):
        resolve(from_dict(d))


def test_bad_population_size_is_refused():
    from nanocloak.errors import NanocloakError

    with pytest.raises(NanocloakError, match="population size"):
        population(BASE, 0)
    assert math.isfinite(spreads("mouse")["tumor.QTC"])

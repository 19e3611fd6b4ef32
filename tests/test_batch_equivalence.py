"""simulate_many of a varied batch equals simulate() one by one on every metric and series (issue 15:
the batch shares looked-up tables and caches; none of it may change a result)."""

import math

import numpy as np
import pytest

import nanocloak
from nanocloak.model.therapy import immune
from nanocloak.spec.formulation import from_dict

CELLS = ["rbc", "nk_cell", "macrophage", "platelet", "neutrophil", "nk_cell"]
METHODS = ["coextrusion", "sonication", "microfluidic_electroporation"]
MATERIALS = ["plga", "liposome", "gold_nanoshell", "msn", "iron_oxide", "cus"]


def _designs(n: int = 8) -> list:
    """Membrane-coated and PEG designs on 4T1 mice of varied size, dose, weight and tumor volume
    (three share a tumor volume, two of them nk_cell coats: the untreated arm's and the immune
    baseline's caches are hit in the batch; each one-by-one run starts from empty immune caches)."""
    rng = np.random.default_rng(7)
    out = []
    for i in range(n):
        surface = ({"kind": "peg", "peg": {"mw_kDa": float(rng.choice([2.0, 5.0]))}} if i % 4 == 3 else
                   {"kind": "membrane", "membrane": {"sources": [{"cell": CELLS[i % len(CELLS)]}],
                                                     "method": METHODS[i % len(METHODS)]}})
        out.append(from_dict({
            "nanocloak": 1, "name": f"d{i}",
            "core": {"material": MATERIALS[i % len(MATERIALS)], "diameter_nm": float(rng.uniform(40, 250)),
                     "zeta_mV": float(rng.uniform(-40, 10))},
            "surface": surface,
            "dose": {"mg_per_kg": float(rng.uniform(1, 20))},
            "subject": {"species": "mouse", "body_weight_g": float(rng.uniform(18, 25)),
                        "tumor": {"line": "4T1", "volume_mm3": 150.0 if i in (0, 1, 5) else float(rng.uniform(50, 400))}},
            "simulate": {"end_h": 168}}))
    return out


def _leaves(x, path=""):
    """(path, value) of every number, string and array in a metrics tree."""
    if isinstance(x, dict):
        for k in sorted(x):
            yield from _leaves(x[k], f"{path}.{k}")
    elif isinstance(x, (list, tuple)):
        for i, v in enumerate(x):
            yield from _leaves(v, f"{path}[{i}]")
    else:
        yield path, x


def _close(a, b) -> bool:
    if isinstance(a, (str, bool)) or a is None:
        return a == b
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        return False
    both_nan = np.isnan(a) & np.isnan(b)
    return bool(np.all(both_nan | (a == b) | (np.abs(a - b) <= 1e-12 * np.maximum(np.abs(a), np.abs(b)))))


@pytest.fixture(scope="module")
def batch_and_single():
    forms = _designs()
    batch = nanocloak.simulate_many(forms)
    single = []
    for f in forms:
        immune.clear_cache()
        single.append(nanocloak.simulate(f))
    return forms, batch, single


def test_every_metric_equals_one_by_one(batch_and_single):
    forms, batch, single = batch_and_single
    assert any(f.surface.membrane is not None and f.surface.membrane.sources[0].cell == "nk_cell" for f in forms)
    for b, s in zip(batch, single):
        lb, ls = dict(_leaves(b.metrics)), dict(_leaves(s.metrics))
        assert lb.keys() == ls.keys(), (b.name, lb.keys() ^ ls.keys())
        bad = [k for k in lb if not _close(lb[k], ls[k])]
        assert not bad, (b.name, [(k, lb[k], ls[k]) for k in bad[:5]])


def test_every_series_equals_one_by_one(batch_and_single):
    _, batch, single = batch_and_single
    for b, s in zip(batch, single):
        assert np.array_equal(b.t_h, s.t_h)
        assert b.series.keys() == s.series.keys()
        for k in b.series:
            assert _close(b.series[k], s.series[k]), (b.name, k)
        if s.therapy is not None:
            assert _close(b.therapy.treated_mm3, s.therapy.treated_mm3)
            assert _close(b.therapy.control_mm3, s.therapy.control_mm3)


def test_the_immune_arm_ran_and_moved_the_tumor(batch_and_single):
    """The nk_cell coats reach the immune arm (the path whose states are shared with its baseline)."""
    forms, batch, _ = batch_and_single
    nk = [r for f, r in zip(forms, batch) if f.surface.membrane is not None and f.surface.membrane.sources[0].cell == "nk_cell"]
    assert nk and all("immune" in r.metrics for r in nk)
    kills = [r.metrics["immune"]["immune_kill_max_per_day"] for r in nk]
    assert all(math.isfinite(k) and k > 0 for k in kills)


def test_terminal_fit_agrees_with_polyfit():
    """fit_lambda_z's plain-float line (for speed) is np.polyfit's least-squares line to rounding."""
    from nanocloak.solvers.terminal_phase import fit_lambda_z

    rng = np.random.default_rng(11)
    t = np.array([0.083, 0.5, 1.0, 2.0, 4.0, 8.0, 24.0, 48.0, 72.0, 120.0, 168.0])
    for _ in range(40):
        c = (rng.uniform(1, 50) * np.exp(-rng.uniform(0.1, 2) * t) + rng.uniform(0.1, 20) * np.exp(-rng.uniform(1e-3, 0.05) * t))
        c *= np.exp(rng.normal(0, 0.05, t.size))
        fit = fit_lambda_z(t, c)
        idx = np.flatnonzero(fit.used)
        slope, intercept = np.polyfit(t[idx], np.log(c[idx]), 1)
        assert fit.lambda_z == pytest.approx(-slope, rel=1e-12)
        assert fit.intercept == pytest.approx(intercept, rel=1e-12, abs=1e-12)
        assert fit.n_points == idx.size >= 3

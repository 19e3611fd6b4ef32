"""The model's value of each evidence measurement, computed the way the paper measured it.

Every arm is simulated once (all arms of all studies as one batch), on a grid that holds every time
its measurements name. Conventions (docs/evidence.md):
- blood: the lab's blood sample (venous concentration x blood volume), as the spec defines it;
- `blood_retention_pct`: blood(t) / blood(reference_t_h) x 100;
- organs: capillary blood + tissue + phagocytic cells (an unperfused dissected organ);
- `t_half_h`: the spec's bi-exponential terminal phase for `terminal`, `two_compartment` and
  `unstated` rows; the NCA terminal slope (the project's NCA rule) for `nca` rows;
- a row with `dose_index: k` is the k-th dose's own curve: the schedule's response minus the
  response to its first k-1 doses (the model is linear in each dose, so this is exact);
- `released_pct`: the formulation's release law in vitro under the row's `conditions`;
- `fold`: the observable `of` in arm `numerator` over arm `denominator` at `t_h`;
- `survival_median_d`: the virtual cohort's Kaplan-Meier median (days after the first dose, the
  arm's schedule; null when more than half the cohort is censored at the follow-up);
- a row with `untreated: true` (survival, tumor volume) is the arm's vehicle control: the same
  simulation's untreated twin (same subject and tumor, no dose), so the growth law alone is compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from nanocloak.evidence.studies import Point, Study

if TYPE_CHECKING:   # annotations only: the simulation is imported where it runs
    from nanocloak.simulation.results import SimulationResult

DEFAULT_END_H = {"mouse": 168.0, "rat": 168.0, "human": 504.0}


@dataclass(frozen=True)
class ArmKey:
    study: str
    arm: str
    doses: int | None = None       # simulate only the first `doses` doses (dose_index rows)


def _arm_times(study: Study, arm: str) -> list[float]:
    times = []
    for p in study.points:
        m = p.m
        if arm in (m.arm, m.numerator, m.denominator):
            for t in (m.t_h, m.reference_t_h):
                if t is not None and t > 0:
                    times.append(float(t))
    return times


def arm_formulation(study: Study, arm: str, doses: int | None = None, overrides: dict | None = None,
                    calibration: str | None = None):
    """The arm's formulation, simulated long enough and sampled at its measurement times."""
    f = study.formulations[arm].model_copy(deep=True)
    times = _arm_times(study, arm)
    end = max([DEFAULT_END_H.get(f.subject.species, 168.0), *[t * 1.05 for t in times],
               *[t + 168.0 for t in f.dose.times_h]])
    if doses is not None:
        f.dose.times_h = f.dose.times_h[:doses]
        if f.dose.schedule is not None:      # an unequal schedule keeps its first doses too
            f.dose.schedule = f.dose.schedule[:doses]
    f.simulate.end_h = end
    f.simulate.output_times_h = sorted({round(t, 9) for t in times if t <= end})
    if overrides:
        f.model.overrides = {**f.model.overrides, **overrides}
    if calibration is not None:
        f.model.calibration = calibration
    return f


def needed_arms(points: list[tuple[Study, Point]]) -> list[ArmKey]:
    keys: dict[ArmKey, None] = {}
    for study, p in points:
        m = p.m
        arms = [m.numerator, m.denominator] if m.observable == "fold" else [m.arm]
        for a in arms:
            assert a is not None, "points here are usable, and a usable point's arms are simulable (studies._usable)"
            keys[ArmKey(study.id, a)] = None
            if m.dose_index and m.dose_index > 1:
                keys[ArmKey(study.id, a, m.dose_index - 1)] = None
    return list(keys)


def simulate_arms(keys: list[ArmKey], studies: dict[str, Study], overrides: dict | None = None,
                  on_progress=None, calibration: str | None = None) -> dict[ArmKey, SimulationResult]:
    """SimulationResults of the arms (one batch); an arm that fails is left out (its points say why)."""
    from nanocloak.errors import NanocloakError
    from nanocloak.simulation.core import simulate_many

    forms = [arm_formulation(studies[k.study], k.arm, k.doses, overrides, calibration) for k in keys]
    try:
        results = simulate_many(forms, on_progress=on_progress)
        return dict(zip(keys, results))
    except NanocloakError:
        out = {}
        for k, f in zip(keys, forms):   # one bad arm must not sink the batch
            try:
                out[k] = simulate_many([f])[0]
            except NanocloakError:
                continue
        return out


# ---------------------------------------------------------------------------------------------
# one measurement
# ---------------------------------------------------------------------------------------------
def _at(t: np.ndarray, y: np.ndarray, at: float) -> float:
    return float(np.interp(at, t, y))


def _series(result, name: str) -> np.ndarray:
    return np.asarray(result.series[name], dtype=float)


def _blood(result) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(result.t_h), _series(result, "blood_sample")


def _organ_pct(result, organ: str) -> np.ndarray:
    return _series(result, organ)


def _per_g(result, organ: str) -> np.ndarray:
    y = _series(result, organ)
    if organ == "tumor" and result.tumor_mass_g is not None:
        return y / np.asarray(result.tumor_mass_g)
    return y / result.organ_masses_g[organ]


def _curve(result, observable: str, organ: str | None) -> tuple[np.ndarray, np.ndarray] | None:
    t = np.asarray(result.t_h)
    if observable in ("blood_pct_id", "blood_retention_pct"):
        return _blood(result)
    if observable in ("organ_pct_id", "organ_pct_id_per_g", "tumor_pct_id", "tumor_pct_id_per_g"):
        name = "tumor" if observable.startswith("tumor") else ORGAN_ALIASES.get(str(organ).lower(), str(organ).lower())
        if name not in result.series:
            return None
        return t, (_per_g(result, name) if observable.endswith("per_g") else _organ_pct(result, name))
    return None


ORGAN_ALIASES = {"lungs": "lung", "kidneys": "kidney", "muscle": "rest"}


def _minus(a, b, observable, organ):
    """The curve of `a` less the curve of `b` (a later dose's own response), on a's grid."""
    ta, ya = _curve(a, observable, organ)
    tb, yb = _curve(b, observable, organ)
    return ta, ya - np.interp(ta, tb, yb)


def value(study: Study, p: Point, results: dict[ArmKey, SimulationResult], of: str | None = None,
          arm: str | None = None) -> float | None:
    """The model's value of measurement p (None when the model cannot give it)."""
    m = p.m
    observable = of or m.observable
    if observable == "fold":
        num = value(study, p, results, m.of, m.numerator)
        den = value(study, p, results, m.of, m.denominator)
        return None if num is None or den is None or den <= 0 else num / den
    arm = arm or m.arm
    if arm is None:     # no arm named (never for a usable point, studies._usable): nothing simulated
        return None
    result = results.get(ArmKey(study.id, arm))
    if result is None:
        return None
    if observable == "t_half_h":
        return _half_life(result, m.method)
    if observable == "auc":
        return _auc(result, m.unit, study.formulations[arm])
    if observable == "tumor_temperature_C":
        return result.metrics.get("tumor_temperature_max_C")
    if observable == "tgi_pct":
        return _therapy_at(result, m.t_h, "tgi")
    untreated = m.untreated and of is None      # a vehicle control: the arm's untreated twin
    if observable == "survival_median_d":       # the virtual cohort's median (model/therapy/survival.py)
        return result.metrics.get("survival_median_untreated_d" if untreated else "survival_median_d")
    if observable == "tumor_volume_mm3":
        return _therapy_at(result, m.t_h, "control" if untreated else "volume")
    if observable == "released_pct":
        return _released(study.formulations[arm], m)
    curve = _curve(result, observable, m.organ)
    if curve is None:
        return None
    if m.dose_index and m.dose_index > 1:
        earlier = results.get(ArmKey(study.id, arm, m.dose_index - 1))
        if earlier is None:
            return None
        curve = _minus(result, earlier, observable, m.organ)
    t, y = curve
    if m.t_h is None or m.t_h > t[-1] + 1e-9:
        return None
    v = _at(t, y, m.t_h)
    if observable == "blood_retention_pct":
        ref = _at(t, y, m.reference_t_h or 0.0)
        return None if ref <= 0 else 100.0 * v / ref
    return v


def _half_life(result, method: str | None) -> float | None:
    if (method or "").lower() == "nca":
        return result.metrics.get("blood_t_half_nca_h")    # the NCA rule on a lab's sampling schedule
    return result.metrics.get("blood_t_half_h")


def _auc(result, unit: str | None, f) -> float | None:
    auc = result.metrics.get("blood_auc_pct_id_h")
    if auc is None:
        return None
    if (unit or "pct_id_h") == "pct_id_h":
        return float(auc)
    if unit == "mg_h_per_L":
        # plasma AUC (mg h/L) = AUC (%ID h) / 100 x dose (mg) / plasma volume (L): total drug in plasma
        # follows the particles while encapsulated. The dose in mg is mg_per_kg x body weight; a dose
        # written per body surface area (dose.mg_per_m2) enters as its mg/kg, (mg/m2) / Km (FDA CDER 2005
        # guidance, Table 1), so the mg given is (mg/m2) x body weight / Km (spec/dose.py)
        dose_mg = f.dose.first_dose_mg(f.subject.body_weight_g)
        plasma_L = result.resolved.physiology.blood_volume_L * (1.0 - result.resolved.physiology.hematocrit)
        return float(auc) / 100.0 * dose_mg / plasma_L
    return None


def _therapy_at(result, t_h: float | None, what: str) -> float | None:
    th = result.therapy
    if th is None or t_h is None:
        return None
    t = np.asarray(th.t_h)
    if t_h > t[-1] + 1e-9:
        return None
    treated = _at(t, np.asarray(th.treated_mm3), t_h)
    if what == "volume":
        return treated
    control = _at(t, np.asarray(th.control_mm3), t_h)
    if what == "control":
        return control
    v0 = float(np.asarray(th.treated_mm3)[0])
    # the spec's tgi_pct at the measured time (growth relative to the untreated arm)
    return None if control - v0 <= 0 else 100.0 * (1.0 - (treated - v0) / (control - v0))


def _released(f, m) -> float | None:
    from nanocloak.lab.release_fit import InVitroConditions, simulate_in_vitro

    if not f.payloads or f.payloads[0].release is None or m.t_h is None:
        return None
    c = m.conditions or {}
    windows = []
    if c.get("laser"):
        laser = c["laser"] if isinstance(c["laser"], dict) else {}
        windows = [(float(laser.get("at_h", 0.0)), float(laser.get("at_h", 0.0)) + float(laser.get("duration_min", 10.0)) / 60.0)]
    cond = InVitroConditions(float(c.get("ph", 7.4)), float(c.get("temperature_C", 37.0)),
                             light_windows_h=tuple(windows))
    t, pct = simulate_in_vitro(f.payloads[0].release, cond, max(float(m.t_h), 1.0))
    return float(np.interp(m.t_h, t, pct))


def model_values(pairs: list[tuple[Study, Point]], overrides: dict | None = None,
                 on_progress=None, calibration: str | None = None) -> dict[tuple[str, int], float | None]:
    """The model's value of every (study, point), simulating each needed arm once."""
    studies = {s.id: s for s, _ in pairs}
    results = simulate_arms(needed_arms(pairs), studies, overrides, on_progress, calibration)
    return {(s.id, p.index): value(s, p, results) for s, p in pairs}

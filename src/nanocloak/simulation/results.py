"""Simulation results: metrics, tidy time course, and the spec's JSON."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from nanocloak.model.particle import OBSERVABLES
from nanocloak.simulation import metrics
from nanocloak.solvers.terminal_phase import nca_half_life
from nanocloak.version import __version__

if TYPE_CHECKING:                 # pandas costs ~0.4 s to import: only where a table is asked for
    import pandas as pd

BLOOD_SAMPLE_TIMES_H = (1, 4, 24, 72)


@dataclass
class SimulationResult:
    """The outcome of simulating one formulation (see FORMULATION_SPEC.md, 'Definitions')."""

    name: str
    t_h: np.ndarray
    series: dict[str, np.ndarray]        # observable -> %ID at t_h (partition, blood_sample, auc)
    n_doses_given: np.ndarray            # doses given by each time, in units of the first dose
    organ_masses_g: dict[str, float]
    metrics: dict[str, Any] = field(default_factory=dict)
    resolved: Any = None                 # parameters.ResolvedFormulation
    payloads: dict[str, Any] = field(default_factory=dict)   # drug -> payload.PayloadResult
    therapy: Any = None                                       # therapy.TherapyResult
    tumor_mass_g: np.ndarray | None = None                    # grown tumor mass at t_h (treated arm)
    muscle_pct_id: np.ndarray | None = None                   # muscle (inside the partition's "rest")
    muscle_mass_g: float | None = None
    imaging: Any = None                                       # imaging.ImagingResult (tumor only)
    #: (doses, t_h) each dose's own blood sample in % of its own dose (JSON `per_dose`)
    dose_blood_sample: np.ndarray | None = None

    def attach_therapy(self, th) -> None:
        """Add the outcome: growth metrics, temperatures, and %ID/g on the grown tumor mass."""
        from nanocloak.model.therapy.outcome import therapy_metrics

        self.therapy = th
        v0 = self.resolved.formulation.subject.tumor.volume_mm3
        self.metrics.update(therapy_metrics(th, v0))
        self.tumor_mass_g = np.interp(self.t_h, th.t_h, th.treated_mm3) / 1000.0
        v24 = metrics.value_at(self.t_h, self.series["tumor"], 24)
        if v24 is not None:
            mass24 = float(np.interp(24.0, self.t_h, self.tumor_mass_g))
            self.metrics["tumor_pct_id_per_g_24h"] = v24 / mass24
            if "organ_pct_id_per_g_24h" in self.metrics:
                self.metrics["organ_pct_id_per_g_24h"]["tumor"] = v24 / mass24
        metastases = self.resolved.formulation.subject.tumor.metastases
        if metastases is not None and metastases.lung:
            self.attach_metastases()

    def attach_metastases(self) -> None:
        """lung_metastases_count and its companions (model/therapy/metastasis.py): CTCs shed by the
        grown tumor, captured by the coat in blood (the classes' mean coverage), seeding the lungs."""
        from nanocloak.model.therapy.metastasis import metastasis_metrics
        from nanocloak.model.therapy.outcome import particle_core_mg_per_dose
        from nanocloak.surface.brain import ctc_capture_affinity

        r, th = self.resolved, self.therapy
        f = r.formulation
        weight = sum(c.weight for c in r.classes)
        coverage = sum(c.weight * c.coverage for c in r.classes) / weight if weight > 0 else 0.0
        affinity = 0.0 if f.core.is_free_drug else ctc_capture_affinity(f, coverage)
        blood_mL = r.physiology.blood_volume_L * 1000.0
        particle = self.series["blood"] / 100.0 * particle_core_mg_per_dose(f) / blood_mL
        control_g = np.interp(self.t_h, th.t_h, th.control_mm3) / 1000.0
        self.metrics.update(metastasis_metrics(self.t_h, self.tumor_mass_g, control_g, particle, affinity))

    def attach_imaging(self) -> None:
        """metrics.imaging (model/imaging.py): tumor-to-muscle contrast and each mode's signal."""
        from nanocloak.model import imaging
        from nanocloak.model.therapy.outcome import particle_core_mg_per_dose

        f = self.resolved.formulation
        if "tumor" not in self.series or self.muscle_pct_id is None or not self.muscle_mass_g:
            return
        tumor_g = self.tumor_mass_g if self.tumor_mass_g is not None else self.organ_masses_g["tumor"]
        dyes = {}
        for drug, p in self.payloads.items():
            mw = library_mw(drug)
            if mw and "tumor" in p.free_ug:
                ug = np.interp(self.t_h, p.t_h, p.free_ug["tumor"] + p.bound_ug.get("tumor", 0.0 * p.t_h))
                dyes[drug] = ug / tumor_g / mw * 1000.0                      # ug/g -> umol/kg ~ uM
        per_g_24 = dict(self.metrics.get("organ_pct_id_per_g_24h", {}))
        muscle_24 = metrics.value_at(self.t_h, self.muscle_pct_id, 24)
        if per_g_24 and muscle_24 is not None:
            per_g_24["muscle"] = muscle_24 / self.muscle_mass_g
        inputs = imaging.ImagingInputs(
            self.t_h, self.series["tumor"] / tumor_g, self.muscle_pct_id / self.muscle_mass_g,
            particle_core_mg_per_dose(f), None if f.core.is_free_drug else f.core.material,
            f.subject.tumor.site, dyes, per_g_24)
        self.imaging = imaging.imaging(inputs)
        self.metrics["imaging"] = self.imaging.metrics

    def attach_payloads(self, payloads: dict) -> None:
        """Add the drug results and their metrics (first payload at top level, all under 'payloads')."""
        from nanocloak.model.payload import payload_metrics

        self.payloads = payloads
        has_tumor = self.resolved.formulation.subject.tumor is not None
        per_drug = {drug: payload_metrics(p, has_tumor) for drug, p in payloads.items()}
        if per_drug:
            self.metrics.update(next(iter(per_drug.values())))
        if len(per_drug) > 1:
            self.metrics["payloads"] = per_drug

    @classmethod
    def build(cls, resolved, grid: np.ndarray, total: np.ndarray, n_given: np.ndarray,
              half_life: float | None | str = "compute", per_dose: np.ndarray | None = None,
              depot: np.ndarray | None = None) -> "SimulationResult":
        """`half_life` may be passed in when computed for a whole batch (metrics.terminal_half_lives);
        `per_dose`: each dose's own blood sample (doses x grid, % of its own dose); `depot`: %ID still
        at the injection site: intraperitoneal / subcutaneous, the partition key `depot`; intratumoral,
        inside the tumor, so counted in `tumor` (docs/routes.md)."""
        f = resolved.formulation
        rows = np.ascontiguousarray(total.T)            # one contiguous row per observable
        muscle = rows[OBSERVABLES.index("muscle")].copy()      # kept for imaging (tumor-to-muscle)
        rows[OBSERVABLES.index("rest")] += rows[OBSERVABLES.index("muscle")]
        # the spec's partition: "rest" = muscle and all else; no tumor row without a tumor
        series = {name: rows[i] for i, name in enumerate(OBSERVABLES)
                  if name != "muscle" and (name != "tumor" or f.subject.tumor is not None)}
        if depot is not None and f.dose.route == "intratumoral":
            series["tumor"] = series["tumor"] + depot
        elif depot is not None:
            series["depot"] = depot
        masses = dict(resolved.organ_masses_g)
        muscle_mass = masses.pop("muscle")
        masses["rest"] = masses["rest"] + muscle_mass
        r = cls(f.name, grid, series, n_given, masses, resolved=resolved, dose_blood_sample=per_dose,
                muscle_pct_id=muscle, muscle_mass_g=muscle_mass)
        if isinstance(half_life, str):      # "compute": not given for the batch
            half_life = metrics.terminal_half_life(grid, series["blood_sample"], max(resolved.dose_times_h))
        r.metrics = r._compute_metrics(half_life)
        return r

    # ---- metrics ---------------------------------------------------------------------------
    def _compute_metrics(self, half: float | None) -> dict[str, Any]:
        t, s = self.t_h, self.series
        ps = self.resolved.params
        m: dict[str, Any] = {}
        for key in ("hydrodynamic_diameter_nm", "zeta_coated_mV"):   # absent for a free drug (no particle)
            v = _num(ps[f"particle.{key}"])
            if v is not None:
                m[key] = v
        for h in BLOOD_SAMPLE_TIMES_H:
            v = metrics.value_at(t, s["blood_sample"], h)
            if v is not None:
                m[f"blood_pct_id_{h}h"] = v
        m["blood_auc_pct_id_h"] = float(s["blood_sample_auc"][-1])
        if half is not None:
            m["blood_t_half_h"] = half
        nca_half = nca_half_life(t, s["blood_sample"], max(self.resolved.dose_times_h))
        if nca_half is not None:
            m["blood_t_half_nca_h"] = nca_half      # the NCA rule on a lab's sampling schedule
        if "tumor" in s:
            for h in (24, 168):
                v = metrics.value_at(t, s["tumor"], h)
                if v is not None:
                    m[f"tumor_pct_id_{h}h"] = v
            m["tumor_pct_id_max"] = float(np.max(s["tumor"]))
            v = metrics.value_at(t, s["tumor"], 24)
            if v is not None:
                m["tumor_pct_id_per_g_24h"] = v / self.organ_masses_g["tumor"]
        if t[-1] >= 24 - 1e-9:
            keys = [k for k in ("liver", "spleen", "lung", "kidney", "heart", "brain", "tumor", "blood", "rest") if k in s]
            m["organ_pct_id_24h"] = {k: metrics.value_at(t, s[k], 24) for k in keys}
            per_g = {k: metrics.value_at(t, s[k], 24) for k in metrics.ORGAN_KEYS if k in s}
            m["organ_pct_id_per_g_24h"] = {k: v / self.organ_masses_g[k] for k, v in per_g.items() if v is not None}
        if self.resolved.formulation.dose.route != "iv":
            m.update(metrics.blood_peak(t, s["blood_sample"], min(self.resolved.dose_times_h)))
        m["excreted_pct_id_end"] = float(s["excreted_urine"][-1] + s["excreted_feces"][-1])
        m["mass_balance_error"] = metrics.mass_balance_error(t, self.partition_sum(), self.n_doses_given)
        return m

    def partition_sum(self) -> np.ndarray:
        return np.sum([self.series[k] for k in metrics.PARTITION if k in self.series], axis=0)

    # ---- views -----------------------------------------------------------------------------
    @property
    def timecourse(self) -> pd.DataFrame:
        """Tidy: t_h, compartment, pct_id, pct_id_per_g (per g of organ; NaN where no mass applies)."""
        import pandas as pd

        frames = []
        for name, y in self.series.items():
            if name == "blood_sample_auc":
                continue
            mass: float | np.ndarray | None = self.organ_masses_g.get(name)
            if name in ("blood", "blood_sample"):
                mass = self.resolved.params["blood_volume_L"] * 1000.0
            if name == "tumor" and self.tumor_mass_g is not None:
                mass = self.tumor_mass_g                      # the grown tumor (spec: mass at that time)
            per_g = y / mass if mass is not None else np.full_like(y, np.nan)
            frames.append(pd.DataFrame({"t_h": self.t_h, "compartment": name, "pct_id": y, "pct_id_per_g": per_g}))
        return pd.concat(frames, ignore_index=True)

    @property
    def parameters(self) -> pd.DataFrame:
        return self.resolved.parameter_table()

    def to_dict(self) -> dict[str, Any]:
        partition_keys = [k for k in metrics.PARTITION if k in self.series]
        cleaned = _clean(self.metrics)
        if "days_to_2x_volume" in self.metrics:          # null when the tumor never doubles (spec)
            cleaned["days_to_2x_volume"] = self.metrics["days_to_2x_volume"]
        out = {
            "nanocloak": 1,
            "version": __version__,
            "name": self.name,
            "calibration": self.calibration_id,
            "metrics": cleaned,
            "timecourse": {
                "t_h": _clean(self.t_h.tolist()),
                "blood_sample_pct_id": _clean(self.series["blood_sample"].tolist()),
                "pct_id": {k: _clean(self.series[k].tolist()) for k in partition_keys},
                **self._imaging_timecourse(),
            },
        }
        per_dose = self.per_dose()
        if per_dose is not None:
            out["per_dose"] = _clean(per_dose)
        return out

    def per_dose(self) -> list[dict[str, Any]] | None:
        """One entry per dose (with a dose.schedule or more than one dose, else None): its time, its
        mg/kg, its own blood sample at every timecourse time and `blood_pct_of_dose_{h}h` h after it
        (BLOOD_SAMPLE_TIMES_H), all in % of that dose; the doses' curves x their amounts / the
        first's sum to blood_sample_pct_id."""
        dose = self.resolved.formulation.dose if self.resolved is not None else None
        curves = self.dose_blood_sample
        if dose is None or curves is None or (len(self.resolved.dose_times_h) == 1 and dose.schedule is None):
            return None
        amounts = dose.amounts_mg_per_kg(self.resolved.dose_times_h)
        entries = []
        for at, mg, curve in zip(self.resolved.dose_times_h, amounts, curves):
            e: dict[str, Any] = {"at_h": float(at), "mg_per_kg": float(mg)}
            for h in BLOOD_SAMPLE_TIMES_H:
                v = metrics.value_at(self.t_h, curve, at + h)
                if v is not None:
                    e[f"blood_pct_of_dose_{h}h"] = v
            e["blood_pct_of_dose"] = curve.tolist()
            entries.append(e)
        return entries

    def _imaging_timecourse(self) -> dict:
        """Beside the partition (which keeps muscle inside `rest`): muscle %ID/g and tumor/muscle."""
        if self.imaging is None:
            return {}
        ratio = [None if not math.isfinite(v) else float(v) for v in self.imaging.tumor_to_muscle]
        assert self.muscle_pct_id is not None and self.muscle_mass_g, "imaging is computed only with a muscle series"
        muscle_per_g = np.asarray(self.muscle_pct_id) / self.muscle_mass_g
        return {"muscle_pct_id_per_g": _clean(muscle_per_g.tolist()), "tumor_to_muscle": ratio}

    @property
    def calibration_id(self) -> str:
        """The id of the calibration this result was computed under (calibration.py)."""
        from nanocloak.library import calibrations as calibration

        f = self.resolved.formulation if self.resolved is not None else None
        return calibration.calibration_id(f.model.calibration if f is not None else None)

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    # ---- notebooks (simulation/notebook.py) ------------------------------------------------
    def plot(self, compartments=None, ax=None, per_g: bool = False, log: bool = True):
        """Time courses (%ID, or %ID/g with per_g) on matplotlib axes; returns the Axes (its .figure
        is the Figure). compartments: names from `timecourse` (default blood sample and main organs)."""
        from nanocloak.simulation import notebook

        return notebook.plot_result(self, ax, compartments, per_g, log)

    def _repr_html_(self) -> str:
        from nanocloak.simulation.notebook import result_html

        return result_html(self)


def library_mw(drug: str) -> float | None:
    """A drug's molar mass (g/mol), None where the library has none."""
    from nanocloak.library import tables as library

    node = library.entry("drugs", drug).get("molecular_weight_g_per_mol")
    return library.value(node) if isinstance(node, dict) else None


def _num(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else float(x)


def _clean(obj):
    """JSON has no NaN: drop non-finite numbers from dicts (absent, per spec) and map them to None in lists."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items() if not (isinstance(v, float) and not math.isfinite(v)) and v is not None}
    if isinstance(obj, list):
        return [_clean(v) if not isinstance(v, float) or math.isfinite(v) else None for v in obj]
    if isinstance(obj, (np.floating,)):
        return float(obj)
    return obj

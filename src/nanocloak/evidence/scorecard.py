"""The scorecard: the model against every usable evidence point, in sample or leave-one-study-out.

Error measures by kind (docs/validation.md):
- ratio-scale observables (%ID, %ID/g, retention, t1/2, AUC, fold, volume): fold error
  max(model/measured, measured/model); within 2-fold and 3-fold shares; GMFE = exp(mean |ln ratio|)
  by group (blood: blood, half-life and AUC rows; organ; tumor);
- temperature: the error of the rise above 37 C (equal to the error of the temperature), in C;
- TGI and released %: the difference in percentage points;
- directions: within a paper, every pair of arms measured on the same observable, organ and time
  (and every `fold` row against 1); a model ratio within 1.1x of 1 is a tie, which never agrees.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from nanocloak.evidence.studies import RATIO_SCALE, Point, Study

TIE_RATIO = 1.1
BODY_TEMPERATURE_C = 37.0


@dataclass
class Scored:
    study: str
    source: str
    index: int
    observable: str
    organ: str | None
    arm: str | None
    t_h: float | None
    measured: float
    model: float | None
    membrane: str
    held_out: bool = False

    @property
    def ratio(self) -> float | None:
        if self.model is None or self.model <= 0 or self.measured <= 0:
            return None
        return self.model / self.measured

    @property
    def fold_error(self) -> float | None:
        r = self.ratio
        return None if r is None else max(r, 1.0 / r)

    def within(self, fold: float) -> bool:
        """Whether the model is within `fold`-fold of the measurement (False without a ratio)."""
        error = self.fold_error
        return error is not None and error <= fold

    @property
    def group(self) -> str:
        if self.observable in ("blood_pct_id", "blood_retention_pct", "t_half_h", "auc"):
            return "blood"
        if self.observable.startswith("tumor") or self.organ == "tumor":
            return "tumor"
        return "organ"


def arm_membrane(study: Study, arm: str | None) -> str:
    f = study.formulations.get(arm or "")
    if f is None:
        return "unknown"
    if f.core.is_free_drug:
        return "free_drug"
    if f.surface.kind == "membrane":
        cells = sorted({s.cell for s in f.surface.membrane.sources})
        return "+".join(cells)
    return f.surface.kind if f.surface.kind != "none" else "bare"


def score_points(pairs: list[tuple[Study, Point]], values: dict[tuple[str, int], float | None],
                 held_out: bool = False) -> list[Scored]:
    out = []
    for study, p in pairs:
        m = p.m
        arm = m.numerator if m.observable == "fold" else m.arm
        assert m.value is not None, "pairs hold usable points only, and a usable point has a value (studies._usable)"
        out.append(Scored(study.id, study.source, p.index, m.observable, m.organ or m.of, arm, m.t_h, float(m.value),
                          values.get((study.id, p.index)), arm_membrane(study, arm), held_out))
    return out


# ---------------------------------------------------------------------------------------------
# summaries
# ---------------------------------------------------------------------------------------------
def _pct(flags: list[bool]) -> float | None:
    return None if not flags else round(100.0 * sum(flags) / len(flags), 1)


def _gmfe(rows: list[Scored]) -> float | None:
    logs = [abs(math.log(r.ratio)) for r in rows if r.ratio is not None]
    return None if not logs else round(math.exp(float(np.mean(logs))), 3)


def summary(rows: list[Scored], studies: dict[str, Study] | None = None) -> dict:
    """The scorecard's numbers over `rows` (the JSON layout of `evidence score --json`)."""
    ratio = [r for r in rows if r.observable in RATIO_SCALE and r.ratio is not None]
    missing = [r for r in rows if r.model is None]
    per_study = defaultdict(list)
    for r in ratio:
        per_study[r.study].append(r.within(2.0))
    temps = [abs(r.model - r.measured) for r in rows if r.observable == "tumor_temperature_C" and r.model is not None]
    tgi = [abs(r.model - r.measured) for r in rows if r.observable == "tgi_pct" and r.model is not None]
    released = [abs(r.model - r.measured) for r in rows if r.observable == "released_pct" and r.model is not None]
    by_membrane = {}
    for name in sorted({r.membrane for r in ratio}):
        sub = [r for r in ratio if r.membrane == name]
        by_membrane[name] = {"points": len(sub), "within_2fold_pct": _pct([r.within(2) for r in sub]),
                             "gmfe": _gmfe(sub)}
    out = {
        "points": len(rows),
        "points_scored": len(rows) - len(missing),
        "studies": len({r.study for r in rows}),
        "within_2fold_pct": _pct([r.within(2.0) for r in ratio]),
        "within_3fold_pct": _pct([r.within(3.0) for r in ratio]),
        "within_2fold_study_weighted_pct": None if not per_study else
        round(100.0 * float(np.mean([np.mean(v) for v in per_study.values()])), 1),
        "gmfe": {g: _gmfe([r for r in ratio if r.group == g]) for g in ("blood", "organ", "tumor")},
        "temperature_rise_mae_C": None if not temps else round(float(np.mean(temps)), 2),
        "tgi_mae_points": None if not tgi else round(float(np.mean(tgi)), 1),
        "released_mae_points": None if not released else round(float(np.mean(released)), 1),
        "direction_agreement_pct": None,
        "directions": 0,
        "by_membrane": by_membrane,
    }
    if studies is not None:
        agree = directions(rows)
        out["direction_agreement_pct"] = _pct(agree)
        out["directions"] = len(agree)
    return out


def directions(rows: list[Scored]) -> list[bool]:
    """Within-paper comparisons: does the model order two arms (or a fold against 1) as measured?"""
    flags = []
    by_key = defaultdict(list)
    for r in rows:
        if r.model is None or r.model <= 0:
            continue
        if r.observable == "fold":
            if r.measured != 1.0:
                flags.append(_agrees(r.measured, r.model))
            continue
        by_key[(r.study, r.observable, r.organ, r.t_h)].append(r)
    for group in by_key.values():
        for i in range(len(group)):
            for j in range(i + 1, len(group)):
                a, b = group[i], group[j]
                if a.arm == b.arm or a.measured == b.measured:
                    continue
                assert a.model is not None and b.model is not None, "rows without a model value were skipped above"
                flags.append(_agrees(a.measured / b.measured, a.model / b.model))
    return flags


def _agrees(measured_ratio: float, model_ratio: float) -> bool:
    if 1.0 / TIE_RATIO <= model_ratio <= TIE_RATIO:
        return False                                  # a tie states no direction
    return (measured_ratio > 1.0) == (model_ratio > 1.0)

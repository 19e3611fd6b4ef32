"""Evidence: the evidence base's studies, each measurement against the model, and the published
arms the Design page offers as starting designs."""

from __future__ import annotations

import threading
from functools import lru_cache

from .door import module
from .inputs import AppInputError, parse_yaml

EVIDENCE_COMMAND = "nanocloak evidence score --loso --out scorecard/"

_EVIDENCE_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _read_base() -> tuple:
    return tuple(module("evidence").load_base())


def evidence_base() -> tuple:
    """The evidence base (read once; a second thread asking meanwhile waits instead of reading it too)."""
    with _EVIDENCE_LOCK:
        return _read_base()


@lru_cache(maxsize=1)
def evidence_arms() -> tuple[tuple[str, str, str], ...]:
    """(study id, arm id, short label) of every simulable arm; () when the base cannot be read."""
    try:
        base = evidence_base()
    except Exception:          # the evidence base is optional for the Design page
        return ()
    return tuple((s.id, a.id, a.label[:60]) for s in base for a in s.data.arms if a.id in s.formulations)


def evidence_arm_doc(study_id: str, arm: str) -> dict:
    """The formulation of a published arm (as the evidence base builds it, assumptions filled)."""
    studies = {s.id: s for s in evidence_base()}
    if study_id not in studies or arm not in studies[study_id].formulations:
        raise AppInputError(f"no simulable arm {arm!r} in study {study_id!r}")
    return parse_yaml(studies[study_id].formulations[arm].to_yaml())


def evidence_studies() -> list[tuple[str, str]]:
    out = []
    for s in evidence_base():
        c = s.data.citation
        who = (c.authors or "").split(",")[0]
        out.append((s.id, f"{s.id}: {who} {c.year or ''}, {len(s.usable_points)} usable points"))
    return out


def _comparison_row(s, p, observables, results) -> dict:
    m = p.m
    model = observables.value(s, p, results) if p.usable else None
    fold = None
    if model is not None and m.value and m.value > 0 and model > 0 and p.ratio_scale:
        fold = max(model / m.value, m.value / model)
    return {"index": p.index, "observable": m.observable,
            "arm": m.arm or (f"{m.numerator} / {m.denominator}" if m.numerator else ""),
            "organ": m.organ or m.of or "", "t_h": m.t_h, "measured": m.value, "sd": m.sd if m.sd is not None else m.sem,
            "model": model, "fold_error": fold, "usable": p.usable, "reason": p.reason,
            "locator": m.locator or "", "ratio_scale": p.ratio_scale}


def evidence_comparison(study_id: str) -> dict:
    """The study, each measurement with the model's value, and each arm's simulated result."""
    observables = module("observables")
    studies = {s.id: s for s in evidence_base()}
    if study_id not in studies:
        raise AppInputError(f"no study {study_id!r} in the evidence base")
    s = studies[study_id]
    pairs = [(s, p) for p in s.usable_points]
    keys = observables.needed_arms(pairs)
    results = observables.simulate_arms(keys, {s.id: s}) if keys else {}
    rows = [_comparison_row(s, p, observables, results) for p in s.points]
    arms = {k.arm: r for k, r in results.items() if k.doses is None}
    return {"study": s, "citation": s.citation_text, "rows": rows, "arm_results": arms,
            "source": s.source, "arm_problems": dict(s.arm_problems),
            "in_sample": s.source == "paper"}

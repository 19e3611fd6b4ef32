"""The published record as data: studies, the model's value for each measurement, the calibration
of effect parameters on them, and the scorecard (docs/evidence.md, docs/validation.md)."""

from nanocloak.evidence.studies import EvidenceError, Point, Study, load_base, study

__all__ = ["EvidenceError", "Point", "Study", "load_base", "study"]

"""What a result is shown and downloaded as (Results, Compare), the coating calculator (Make) and
the NCA of uploaded lab data (Lab data)."""

from __future__ import annotations

import dataclasses
import io
import shutil
import uuid
import zipfile
from pathlib import Path

from .door import module

#: metric name -> unit, used where the package does not say (names carry most units)
_UNIT_SUFFIXES = (("_nm", "nm"), ("_mV", "mV"), ("_pct_id_per_g", "%ID/g"), ("_pct_id_h", "%ID x h"),
                  ("_pct_id", "%ID"), ("_ug_h_per_g", "ug x h/g"), ("_ug_per_g", "ug/g"), ("_mm3", "mm3"),
                  ("_C", "C"), ("_pct", "%"), ("_h", "h"))
NCA_METHODS = ("linear", "linear-up/log-down")


# ---------------------------------------------------------------------------------------------
# a simulation's outputs
# ---------------------------------------------------------------------------------------------
def metric_unit(name: str) -> str:
    unit = getattr(module("report"), "metric_unit", None)
    if unit is not None:
        return unit(name)
    return next((u for suffix, u in _UNIT_SUFFIXES if name.endswith(suffix)), "")


def summary_text(result) -> list[str]:
    """The report's plain-language sentences about a result ([] if the package has none)."""
    text = getattr(module("report"), "summary_text", None)
    try:
        return list(text(result)) if text is not None else []
    except Exception:          # a sentence the report cannot make must not hide the result
        return []


def parameter_table(result):
    """DataFrame name, value, unit, source (and description where the package gives one)."""
    return result.parameters


def timecourse_csv(result) -> str:
    return result.timecourse.to_csv(index=False)


def result_json(result) -> str:
    return result.to_json(indent=1)


def _report_folder(result, workdir: Path) -> Path:
    write_outputs = module("report").write_outputs
    out = Path(workdir) / f"report-{uuid.uuid4().hex[:12]}"
    write_outputs(result, out)
    return out


def report_bundle(result, workdir: Path) -> tuple[bytes, str]:
    """(zip of the files `nanocloak simulate --out DIR` writes, report.html), made once per result
    (the report's figures take seconds) and kept on the result."""
    cached = getattr(result, "_app_report", None)
    if cached is not None:
        return cached
    out = _report_folder(result, workdir)
    try:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for p in sorted(out.rglob("*")):
                if p.is_file():
                    z.write(p, p.relative_to(out).as_posix())
        bundle = (buf.getvalue(), (out / "report.html").read_text(encoding="utf-8"))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    try:
        result._app_report = bundle
    except AttributeError:
        pass
    return bundle


def report_zip(result, workdir: Path) -> bytes:
    return report_bundle(result, workdir)[0]


def report_html(result, workdir: Path) -> str:
    return report_bundle(result, workdir)[1]


# ---------------------------------------------------------------------------------------------
# Make: the coating calculator
# ---------------------------------------------------------------------------------------------
def coating_plan(f, batch_mg: float | None) -> dict:
    """The calculator's numbers as plain data (nanocloak.lab.fabrication.coating_plan)."""
    plan = module("fabrication").coating_plan(f, batch_mg)
    return dataclasses.asdict(plan)


def batch_sheet_html(f, batch_mg: float | None) -> str:
    fab = module("fabrication")
    return fab.batch_sheet_html(f, fab.coating_plan(f, batch_mg))


def dose_core_mg(f) -> float | None:
    try:
        return float(module("fabrication").dose_core_mg(f))
    except Exception:
        return None


# ---------------------------------------------------------------------------------------------
# Lab data: NCA of an uploaded file (saved in the session's folder under a fixed name)
# ---------------------------------------------------------------------------------------------
def load_lab(path: Path, f=None):
    return module("labdata").load_lab_data(path, f)


def nca(lab, matrix: str | None, method: str) -> list:
    return module("nca").analyse(lab, matrix or None, method)


def nca_methods() -> tuple[str, ...]:
    return tuple(getattr(module("nca"), "METHODS", NCA_METHODS))


def fit_observables() -> dict[str, str]:
    """Lab matrix -> the model series a fit compares it with."""
    return dict(getattr(module("fitting"), "OBSERVABLE_OF_MATRIX", {"blood": "blood_sample"}))

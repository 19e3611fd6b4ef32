"""The app's one door into nanocloak: every import of the package the app makes is in this file.

The rest of the app (pages, figures, jobs) calls these functions and reads results through their
public attributes (`metrics`, `timecourse`, `series`, `t_h`, `payloads`, `therapy`, `parameters`).
When the package's modules move, this is the only file to update. Imports are lazy (inside the
functions) so that `import nanocloak.app` stays cheap and a missing piece breaks only its page.

Everything from the browser comes in as text or bytes and is checked here: size (MAX_UPLOAD_BYTES),
YAML without aliases and within a node budget, then the package's own validators (the formulation
contract, the lab data importer, the design space loader), whose messages are shown as they are.
Nothing here takes a path from the browser: callers pass paths inside the session's own folder.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import math
import re
import shutil
import threading
import uuid
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

#: the largest file accepted from the browser (a formulation is a few kB, a lab CSV a few hundred)
MAX_UPLOAD_BYTES = 2_000_000
#: the browser itself drops larger files; between MAX_UPLOAD_BYTES and this the page says why
CLIENT_MAX_UPLOAD_BYTES = 8_000_000
#: YAML events (scalars, mappings, sequences) allowed in one document; a formulation has < 300
MAX_YAML_EVENTS = 50_000
#: the largest screen the app runs itself; bigger ones are handed to the CLI (Dask)
MAX_APP_DESIGNS = 512
#: MCMC steps the app allows for a fit (the CLI has no limit)
MAX_FIT_STEPS = 3000

#: metric name -> unit, used where the package does not say (names carry most units)
_UNIT_SUFFIXES = (("_nm", "nm"), ("_mV", "mV"), ("_pct_id_per_g", "%ID/g"), ("_pct_id_h", "%ID x h"),
                  ("_pct_id", "%ID"), ("_ug_h_per_g", "ug x h/g"), ("_ug_per_g", "ug/g"), ("_mm3", "mm3"),
                  ("_C", "C"), ("_pct", "%"), ("_h", "h"))


#: where each piece of the package lives, newest layout first (the package is being reorganised:
#: a module that moves is one more name here, nothing else changes)
MODULES: dict[str, tuple[str, ...]] = {
    "errors": ("nanocloak.errors",),
    "formulation": ("nanocloak.spec.formulation", "nanocloak.formulation"),
    "safe_yaml": ("nanocloak.library.safe_yaml", "nanocloak.safe_yaml"),
    "library": ("nanocloak.library.tables", "nanocloak.library"),
    "listing": ("nanocloak.library.listing", "nanocloak.library_listing"),
    "simulation": ("nanocloak.simulation.core", "nanocloak.simulation"),
    "report": ("nanocloak.io.report", "nanocloak.report"),
    "fabrication": ("nanocloak.lab.fabrication", "nanocloak.fabrication"),
    "labdata": ("nanocloak.lab.labdata", "nanocloak.labdata"),
    "nca": ("nanocloak.lab.nca", "nanocloak.nca"),
    "fitting": ("nanocloak.inference.fitting", "nanocloak.fitting"),
    "space": ("nanocloak.screen.space", "nanocloak.design_space"),
    "screening": ("nanocloak.screen.screening", "nanocloak.screening"),
    "evidence": ("nanocloak.evidence",),
    "observables": ("nanocloak.evidence.observables",),
}


def module(name: str):
    """The package module `name` (MODULES), wherever the current layout keeps it."""
    import importlib

    tried = []
    for candidate in MODULES[name]:
        try:
            return importlib.import_module(candidate)
        except ModuleNotFoundError as exc:
            # only "this module does not exist here"; an import error inside it propagates
            if exc.name is None or not (candidate == exc.name or candidate.startswith(exc.name + ".")):
                raise
            tried.append(candidate)
    raise ImportError(f"nanocloak has no {name} module (tried {', '.join(tried)})")


class AppInputError(Exception):
    """Input from the browser that is refused before the package sees it (size, encoding, aliases)."""


def _errors():
    errors = module("errors")
    return errors.FormulationError, errors.NanocloakError


def user_error_types() -> tuple[type, ...]:
    """Exceptions whose message is meant for the user (shown on the page, no traceback)."""
    _, nanocloak_error = _errors()
    return (nanocloak_error, AppInputError)


def version() -> str:
    from .. import __version__

    return __version__


# ---------------------------------------------------------------------------------------------
# library choices
# ---------------------------------------------------------------------------------------------
_TABLE_OF_KIND = {"materials": "materials", "membranes": "membranes", "ligands": "ligands", "drugs": "drugs",
                  "cell_lines": "cell_lines", "cancer_types": "cancer_types", "coating_methods": "coating_methods",
                  "species": "species"}


@lru_cache(maxsize=None)
def choices(kind: str) -> tuple[tuple[str, str], ...]:
    """(value, label) pairs for a dropdown, from the package's libraries."""
    library = module("library")
    if kind == "release_models":
        return tuple((m["key"], f"{m['key']}: " + ", ".join(f"{p['name']} ({p['unit']})" for p in m["params"]))
                     for m in _release_models())
    entries = library.entries(_TABLE_OF_KIND[kind])
    out = []
    for key, entry in entries.items():
        entry = entry if isinstance(entry, dict) else {}
        if kind == "cell_lines":
            label = f"{key} ({entry.get('species', '?')} {str(entry.get('cancer_type', '')).replace('_', ' ')})"
        elif kind == "species":
            label = key
        else:
            label = f"{key}: {entry.get('label')}" if entry.get("label") else key
        out.append((key, label))
    return tuple(out)


@lru_cache(maxsize=1)
def _release_models() -> tuple[dict, ...]:
    return tuple(module("listing").entries_json("release-models"))


def release_parameters(model: str | None) -> list[dict]:
    """[{name, unit, lower, upper}] of a release model (case-insensitive), [] if unknown."""
    if not model:
        return []
    wanted = str(model).strip().lower()
    for m in _release_models():
        if m["key"].lower() == wanted:
            return list(m["params"])
    return []


# ---------------------------------------------------------------------------------------------
# starting designs: the repository's examples and the evidence base's published arms
# ---------------------------------------------------------------------------------------------
#: used when neither examples/ nor the evidence base can be read (a copy of examples/rbc_plga.yaml)
FALLBACK_DESIGN = {
    "nanocloak": 1, "name": "RBC-PLGA-DOX",
    "core": {"material": "plga", "diameter_nm": 70},
    "surface": {"kind": "membrane", "membrane": {"sources": [{"cell": "rbc", "donor": "syngeneic"}],
                                                 "method": "coextrusion"}},
    "payloads": [{"drug": "doxorubicin", "loading_wt_pct": 5,
                  "release": {"model": "first_order", "params": {"k_per_h": 0.02},
                              "triggers": [{"kind": "ph", "threshold": 6.8, "factor": 3.0}]}}],
    "dose": {"basis": "particle", "mg_per_kg": 5, "times_h": [0]},
    "subject": {"species": "mouse", "body_weight_g": 20,
                "tumor": {"line": "4T1", "type": "breast", "site": "subcutaneous", "model": "allograft", "volume_mm3": 100}},
    "simulate": {"end_h": 168},
}


def examples_dir() -> Path | None:
    """The repository's examples/ folder (present in a source checkout, not in an installed wheel)."""
    here = Path(__file__).resolve()
    for parent in here.parents[1:5]:
        candidate = parent / "examples"
        if (candidate / "rbc_plga.yaml").is_file():
            return candidate
    return None


@lru_cache(maxsize=1)
def example_designs() -> tuple[tuple[str, str], ...]:
    """(key, label) of the starting designs: examples/*.yaml, then every simulable arm of the
    evidence base (published cases). Keys are short ('example:rbc_plga', 'ev:12'): the page's
    dropdowns index every substring of each option."""
    out: list[tuple[str, str]] = []
    ex = examples_dir()
    if ex is not None:
        for p in sorted(ex.glob("*.yaml")):
            out.append((f"example:{p.stem}", f"example: {p.stem}"))
    for i, (study_id, arm, label) in enumerate(_evidence_arms()):
        out.append((f"ev:{i}", f"published: {study_id} / {arm}" + (f" ({label})" if label else "")))
    if not out:
        out.append(("builtin:rbc_plga", "built-in: RBC-PLGA-DOX"))
    return tuple(out)


def example_search(key: str) -> str:
    """A short text a dropdown searches for a starting design (its file stem, or study and arm)."""
    kind, _, rest = key.partition(":")
    if kind == "ev":
        study_id, arm, _ = _evidence_arms()[int(rest)]
        rest = f"{study_id} {arm}"
    return search_words(rest)


def search_words(text: str) -> str:
    """Words, not one long token: the dropdown's index grows with the square of a token's length."""
    return re.sub(r"[_:/\s]+", " ", str(text)).strip()


@lru_cache(maxsize=1)
def _evidence_arms() -> tuple[tuple[str, str, str], ...]:
    try:
        base = evidence_base()
    except Exception:          # the evidence base is optional for the Design page
        return ()
    return tuple((s.id, a.id, a.label[:60]) for s in base for a in s.data.arms if a.id in s.formulations)


def default_design_key() -> str:
    keys = [k for k, _ in example_designs()]
    return "example:rbc_plga" if "example:rbc_plga" in keys else keys[0]


def example_doc(key: str) -> dict:
    """The document of a starting design, by its key from example_designs() (never a path)."""
    known = dict(example_designs())
    if key not in known and key != "builtin:rbc_plga":
        raise AppInputError(f"unknown example {key!r}")
    kind, _, rest = key.partition(":")
    if kind == "example":
        ex = examples_dir()
        path = ex / f"{rest}.yaml" if ex is not None else None
        if path is None or not path.is_file():
            raise AppInputError(f"example {rest!r} is not available")
        return parse_yaml(path.read_text(encoding="utf-8"), f"{rest}.yaml")
    if kind == "ev":
        study_id, arm, _ = _evidence_arms()[int(rest)]
        return evidence_arm_doc(study_id, arm)
    return copy.deepcopy(FALLBACK_DESIGN)


def evidence_arm_doc(study_id: str, arm: str) -> dict:
    """The formulation of a published arm (as the evidence base builds it, assumptions filled)."""
    studies = {s.id: s for s in evidence_base()}
    if study_id not in studies or arm not in studies[study_id].formulations:
        raise AppInputError(f"no simulable arm {arm!r} in study {study_id!r}")
    return parse_yaml(studies[study_id].formulations[arm].to_yaml())


def example_file(name: str) -> Path | None:
    """A file of examples/ by a name the app chose (lab data, spaces); None when absent."""
    ex = examples_dir()
    if ex is None or not re.fullmatch(r"[A-Za-z0-9_./-]+", name) or ".." in name:
        return None
    p = (ex / name).resolve()
    return p if p.is_file() and ex.resolve() in p.parents else None


def example_spaces() -> list[tuple[str, str]]:
    ex = examples_dir()
    if ex is None or not (ex / "spaces").is_dir():
        return []
    return [(p.stem, f"example space: {p.stem}") for p in sorted((ex / "spaces").glob("*.yaml"))]


# ---------------------------------------------------------------------------------------------
# text and files from the browser
# ---------------------------------------------------------------------------------------------
def decode_upload(contents: str | None, what: str = "file") -> bytes:
    """The bytes of a dcc.Upload `contents` data URL, refused beyond MAX_UPLOAD_BYTES."""
    import base64
    import binascii

    if not contents or "," not in contents:
        raise AppInputError(f"the {what} is empty")
    header, _, data = contents.partition(",")
    if ";base64" not in header:
        raise AppInputError(f"the {what} could not be read (not a base64 upload)")
    if len(data) > (MAX_UPLOAD_BYTES * 4) // 3 + 8:
        raise AppInputError(f"the {what} is larger than {MAX_UPLOAD_BYTES / 1e6:g} MB: refused")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise AppInputError(f"the {what} could not be read (bad base64 data)") from None
    if len(raw) > MAX_UPLOAD_BYTES:
        raise AppInputError(f"the {what} is larger than {MAX_UPLOAD_BYTES / 1e6:g} MB: refused")
    return raw


def decode_text(raw: bytes, what: str = "file") -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AppInputError(f"the {what} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None


def parse_yaml(text: str, source: str = "") -> Any:
    """YAML text -> data, strictly: size, no aliases (no 'billion laughs'), an event budget, then
    the package's strict loader (duplicate keys, nesting depth)."""
    import yaml

    safe_yaml = module("safe_yaml")
    if not isinstance(text, str):
        raise AppInputError("expected YAML text")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_UPLOAD_BYTES:
        raise AppInputError(f"the YAML is larger than {MAX_UPLOAD_BYTES / 1e6:g} MB: refused")
    try:
        for n, event in enumerate(yaml.parse(text, Loader=yaml.SafeLoader)):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise AppInputError("YAML anchors and aliases (&name, *name) are not accepted here; write the values out")
            if n > MAX_YAML_EVENTS:
                raise AppInputError(f"the YAML has more than {MAX_YAML_EVENTS} values: refused")
    except yaml.YAMLError:
        pass                       # the strict loader below names the line and column
    return safe_yaml.loads(text, source)


def dump_yaml(doc: Any) -> str:
    """Block style, except lists of plain values ([0, 24]) and small flat mappings ({k_per_h: 0.02})."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def scalar(v):
        return v is None or isinstance(v, (str, int, float, bool))

    def represent_list(dumper, data):
        return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=bool(data) and all(scalar(v) for v in data))

    def represent_dict(dumper, data):
        flat = 0 < len(data) <= 3 and all(scalar(v) and not isinstance(v, str) for v in data.values())
        return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flat)

    Dumper.add_representer(list, represent_list)
    Dumper.add_representer(dict, represent_dict)
    return yaml.dump(doc, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=100)


def validate(doc: Any) -> tuple[Any, list[tuple[str, str]]]:
    """(Formulation or None, [(path, message)]) by the package's contract (nanocloak.formulation)."""
    from_dict = module("formulation").from_dict
    formulation_error, nanocloak_error = _errors()
    try:
        return from_dict(doc), []
    except formulation_error as exc:
        return None, [(p.path, p.message) for p in exc.problems]
    except nanocloak_error as exc:
        return None, [("", str(exc))]


def warnings_of(f) -> list[tuple[str, str]]:
    """Plausibility warnings (atypical but allowed values), as the CLI prints them."""
    check = getattr(module("formulation"), "plausibility_warnings", None)
    return [] if check is None else [(p.path, p.message) for p in check(f)]


# ---------------------------------------------------------------------------------------------
# simulation and its outputs
# ---------------------------------------------------------------------------------------------
def simulate(f):
    from .. import simulate as _simulate

    return _simulate(f)


def simulate_many(formulations: list):
    from .. import simulate_many as _simulate_many

    return _simulate_many(list(formulations))


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


def safe_filename(name: str, suffix: str) -> str:
    """A download name from a design name (a name offered to the browser, never a path here)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name or "design")).strip("._") or "design"
    return f"{stem[:60]}{suffix}"


# ---------------------------------------------------------------------------------------------
# Make: the coating calculator
# ---------------------------------------------------------------------------------------------
def coating_plan(f, batch_mg: float | None) -> dict:
    """The calculator's numbers as plain data (nanocloak.fabrication.coating_plan)."""
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
LAB_SUFFIXES = (".csv", ".xlsx")
NCA_METHODS = ("linear", "linear-up/log-down")


def lab_suffix(browser_name: str | None) -> str:
    """.csv or .xlsx from the name the browser gave (only its ending is looked at)."""
    suffix = Path(str(browser_name or "")).suffix.lower()
    if suffix not in LAB_SUFFIXES:
        raise AppInputError("lab data must be a .csv or .xlsx file (docs/lab_data.md)")
    return suffix


def load_lab(path: Path, f=None):
    return module("labdata").load_lab_data(path, f)


def nca(lab, matrix: str | None, method: str) -> list:
    return module("nca").analyse(lab, matrix or None, method)


def nca_methods() -> tuple[str, ...]:
    return tuple(getattr(module("nca"), "METHODS", NCA_METHODS))


# ---------------------------------------------------------------------------------------------
# Evidence: a study's data against the model
# ---------------------------------------------------------------------------------------------
_EVIDENCE_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _evidence_base() -> tuple:
    return tuple(module("evidence").load_base())


def evidence_base() -> tuple:
    """The evidence base (read once; a second thread asking meanwhile waits instead of reading it too)."""
    with _EVIDENCE_LOCK:
        return _evidence_base()


def evidence_studies() -> list[tuple[str, str]]:
    out = []
    for s in evidence_base():
        c = s.data.citation
        who = (c.authors or "").split(",")[0]
        out.append((s.id, f"{s.id}: {who} {c.year or ''}, {len(s.usable_points)} usable points"))
    return out


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
    rows = []
    for p in s.points:
        m = p.m
        model = observables.value(s, p, results) if p.usable else None
        fold = None
        if model is not None and m.value and m.value > 0 and model > 0 and p.ratio_scale:
            fold = max(model / m.value, m.value / model)
        rows.append({"index": p.index, "observable": m.observable, "arm": m.arm or (f"{m.numerator} / {m.denominator}" if m.numerator else ""),
                     "organ": m.organ or m.of or "", "t_h": m.t_h, "measured": m.value, "sd": m.sd if m.sd is not None else m.sem,
                     "model": model, "fold_error": fold, "usable": p.usable, "reason": p.reason,
                     "locator": m.locator or "", "ratio_scale": p.ratio_scale})
    arms = {k.arm: r for k, r in results.items() if k.doses is None}
    return {"study": s, "citation": s.citation_text, "rows": rows, "arm_results": arms,
            "source": s.source, "arm_problems": dict(s.arm_problems),
            "in_sample": s.source == "paper"}


EVIDENCE_COMMAND = "nanocloak evidence score --loso --out scorecard/"


# ---------------------------------------------------------------------------------------------
# Screen: a small design space (run in a worker process, see jobs.py)
# ---------------------------------------------------------------------------------------------
SCREEN_COMMAND = "nanocloak screen run SPACE.yaml --out DIR"

DEFAULT_SPACE_TEXT = """\
# A small design space around the current design (base: current = the Design page's formulation).
# Paths are the formulation's; ranges, choices and hybrid compositions as in docs/screening.md.
base: current
vary:
  core.diameter_nm: {range: [50, 200], scale: log}
  dose.mg_per_kg: {range: [1, 20]}
sampling: {method: sobol, n: 64, seed: 1}
objectives:
  - maximize: tumor_pct_id_24h
  - minimize: liver_pct_id_24h
top: 10
"""


def example_space_text(name: str) -> str:
    """An example space file with its base formulation written inline (so it can run here and,
    downloaded, with the CLI anywhere)."""
    p = example_file(f"spaces/{name}.yaml")
    if p is None:
        raise AppInputError(f"example space {name!r} is not available")
    doc = parse_yaml(p.read_text(encoding="utf-8"), p.name)
    base = doc.get("base")
    if isinstance(base, str):
        base_path = (p.parent / base).resolve()
        ex = examples_dir()
        if ex is None or ex.resolve() not in base_path.parents or not base_path.is_file():
            raise AppInputError(f"the example's base {base!r} is not available")
        doc["base"] = parse_yaml(base_path.read_text(encoding="utf-8"), base_path.name)
    header = "".join(line + "\n" for line in p.read_text(encoding="utf-8").splitlines() if line.startswith("#"))
    return header + dump_yaml(doc)


def space_doc(text: str, current_doc: dict | None) -> dict:
    """The space typed on the page as a mapping with its base inline (`base: current` is the
    Design page's formulation; a file path is refused: nothing is read from the disk for the
    browser)."""
    doc = parse_yaml(text, "space")
    if not isinstance(doc, dict):
        raise AppInputError("a space holds a mapping: base, vary, sampling, objectives ...")
    base = doc.get("base", "current")
    if isinstance(base, str):
        if base.strip().lower() != "current":
            raise AppInputError("base: use `current` (the Design page's formulation) or write the formulation inline; "
                                "file paths are not read from the browser")
        if not isinstance(current_doc, dict):
            raise AppInputError("base: current, but the Design page has no formulation")
        doc["base"] = copy.deepcopy(current_doc)
    return doc


def check_space(doc: dict, workdir: Path) -> dict:
    """Validate a space (the package's loader) and count its designs: {n, fields, objectives}."""
    space = module("space").load_space(copy.deepcopy(doc), base_dir=Path(workdir))
    n = len(space.design_matrix())
    return {"n": n, "fields": [f.path for f in space.fields],
            "objectives": [(o.metric, o.sense) for o in space.objectives]}


def screen_job(payload: dict, job_dir: Path, progress: Callable[[int, int, str], None]) -> dict:
    """Worker: run the screen serially into job_dir/screen; returns what the page shows."""
    run_screen = module("screening").run_screen
    space = module("space").load_space(copy.deepcopy(payload["space"]), base_dir=job_dir)
    n = len(space.design_matrix())
    if n > MAX_APP_DESIGNS:
        raise AppInputError(f"{n} designs: the app runs at most {MAX_APP_DESIGNS}; use `{SCREEN_COMMAND}`")
    progress(0, n, "simulating designs")
    outcome = run_screen(space, job_dir / "screen", serial=True, on_progress=lambda done, total: progress(done, total, "simulating designs"))
    designs = outcome.ranking.designs
    designs.to_csv(job_dir / "designs.csv", index=False)
    g = outcome.ranking.goals
    return {"n_designs": int(outcome.n_designs), "n_failed": int(outcome.n_failed),
            "objectives": [list(o) for o in g.objectives],
            "constraints": [[c, lo, hi] for c, lo, hi in g.constraints],
            "varied": [c for c, _ in space.column_specs()],
            "top_ids": [int(i) for i in outcome.ranking.top["design_id"].tolist()],
            "failure_reasons": {str(k): int(v) for k, v in outcome.failure_reasons.items()}}


def top_design_yaml(space_doc_: dict, design_id: int, job_dir: Path) -> str:
    """The formulation of one screened design (for 'open in Design')."""
    space = module("space").load_space(copy.deepcopy(space_doc_), base_dir=job_dir)
    matrix = space.design_matrix()
    if not 0 <= design_id < len(matrix):
        raise AppInputError(f"no design {design_id}")
    return dump_yaml(space.formulation_dict(matrix[design_id], design_id))


# ---------------------------------------------------------------------------------------------
# Fit: calibrating the model to the uploaded lab data (worker process)
# ---------------------------------------------------------------------------------------------
def fit_job(payload: dict, job_dir: Path, progress: Callable[[int, int, str], None]) -> dict:
    fitting = module("fitting")
    f = module("formulation").from_dict(payload["formulation"])
    lab = load_lab(Path(payload["lab_path"]), f)
    method = payload.get("method", "lsq")
    steps = int(min(max(int(payload.get("steps", 500)), 50), MAX_FIT_STEPS))
    progress(0, steps if method == "mcmc" else 1, "least squares" if method == "lsq" else "least squares, then MCMC")
    result = fitting.fit(f, lab.frame, method=method, steps=steps,
                         on_step=lambda k: progress(int(k), steps, "MCMC"))
    calibrated = result.calibrated_formulation()
    return {"method": method, "estimates": result.estimates(), "warnings": list(result.warnings),
            "calibrated_yaml": calibrated.to_yaml()}


JOB_KINDS: dict[str, Callable] = {"screen": screen_job, "fit": fit_job}


def run_job(kind: str, payload: dict, job_dir: Path, progress) -> dict:
    if kind == "selftest":                  # the tests' stand-in for a long job
        import time

        total = int(payload.get("steps", 10))
        for i in range(total):
            progress(i, total, "working")
            time.sleep(float(payload.get("sleep", 0.1)))
        progress(total, total, "done")
        return {"ok": True}
    last = {"total": 1}

    def tracked(done: int, total: int, message: str = "") -> None:
        last["total"] = max(int(total), 1)
        progress(done, total, message)

    result = JOB_KINDS[kind](payload, job_dir, tracked)
    progress(last["total"], last["total"], "done")
    return result


def limit_threads(n: int = 1) -> None:
    """A worker's compiled kernels run on n threads (the server keeps the other cores)."""
    try:
        import numba

        numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))
    except Exception:
        pass


def preload() -> None:
    """Import the modules a screen and a fit use (the job forkserver inherits them)."""
    for name in ("simulation", "formulation", "space", "screening", "fitting", "labdata"):
        try:
            module(name)
        except ImportError:        # a moved module fails its job with a clear message later
            pass


def warm_up(evidence: bool = True) -> None:
    """Read and compile what the first requests need (run once in the background at start): the
    starting designs first (the first page lists them), then one simulation."""
    if evidence:
        example_designs()
    f, _ = validate(copy.deepcopy(FALLBACK_DESIGN))
    if f is not None:
        simulate(f)


def json_default(o):
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:
        pass
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return str(o)


def to_json(obj) -> str:
    return json.dumps(obj, default=json_default)


def fit_observables() -> dict[str, str]:
    """Lab matrix -> the model series a fit compares it with."""
    return dict(getattr(module("fitting"), "OBSERVABLE_OF_MATRIX", {"blood": "blood_sample"}))

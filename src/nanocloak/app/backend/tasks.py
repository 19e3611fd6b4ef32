"""Screen and Fit: a design space checked on the page, and the long jobs (a screen, a fit) that run
in a worker process (see ../jobs.py), reporting progress."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Callable

from .designs import FALLBACK_DESIGN, example_designs, example_file, examples_dir, validate
from .door import module, simulate
from .inputs import AppInputError, dump_yaml, parse_yaml
from .outputs import load_lab

#: the largest screen the app runs itself; bigger ones are handed to the CLI (Dask)
MAX_APP_DESIGNS = 512
#: MCMC steps the app allows for a fit (the CLI has no limit)
MAX_FIT_STEPS = 3000

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


# ---------------------------------------------------------------------------------------------
# Screen: a small design space
# ---------------------------------------------------------------------------------------------
def example_spaces() -> list[tuple[str, str]]:
    ex = examples_dir()
    if ex is None or not (ex / "spaces").is_dir():
        return []
    return [(p.stem, f"example space: {p.stem}") for p in sorted((ex / "spaces").glob("*.yaml"))]


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
    outcome = run_screen(space, job_dir / "screen", serial=True,
                         on_progress=lambda done, total: progress(done, total, "simulating designs"))
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
# Fit: calibrating the model to the uploaded lab data
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


# ---------------------------------------------------------------------------------------------
# the worker's side
# ---------------------------------------------------------------------------------------------
JOB_KINDS: dict[str, Callable] = {"screen": screen_job, "fit": fit_job}


def _selftest(payload: dict, progress) -> dict:
    """The tests' stand-in for a long job."""
    import time

    total = int(payload.get("steps", 10))
    for i in range(total):
        progress(i, total, "working")
        time.sleep(float(payload.get("sleep", 0.1)))
    progress(total, total, "done")
    return {"ok": True}


def run_job(kind: str, payload: dict, job_dir: Path, progress) -> dict:
    if kind == "selftest":
        return _selftest(payload, progress)
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

        # numba.config sets its NUMBA_* names at import time (reload_config): invisible to mypy
        numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]
    except Exception:
        pass


def warm_up(evidence: bool = True) -> None:
    """Read and compile what the first requests need (run once in the background at start): the
    starting designs first (the first page lists them), then one simulation."""
    if evidence:
        example_designs()
    f, _ = validate(copy.deepcopy(FALLBACK_DESIGN))
    if f is not None:
        simulate(f)

"""The browser app's logic without a browser: the form <-> document mapping, input checks, the
backend's use of the package, sessions and worker jobs (docs/app.md). These always run; the
figure and Dash tests skip when the [app] extra (plotly, dash) is not installed."""

from __future__ import annotations

import base64
import copy
import io
import time
import zipfile
from pathlib import Path

import pytest

import nanocloak
from nanocloak.app import backend, formspec
from nanocloak.app.jobs import JobManager
from nanocloak.app.sessions import SessionError, SessionStore, new_session_id

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_FILES = sorted((ROOT / "examples").glob("*.yaml"))


def doc_of(name: str) -> dict:
    return backend.parse_yaml((ROOT / "examples" / f"{name}.yaml").read_text(encoding="utf-8"))


def upload(data: bytes, mime: str = "text/csv") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


# ---------------------------------------------------------------------------------------------
# the form <-> document mapping
# ---------------------------------------------------------------------------------------------
def test_paths_get_set_delete_with_list_padding():
    assert formspec.parse_path("surface.membrane.sources[1].cell") == ["surface", "membrane", "sources", 1, "cell"]
    assert formspec.render_path(["a", 0, "b", 2]) == "a[0].b[2]"
    doc: dict = {}
    formspec.set_path(doc, formspec.parse_path("x.items[1].name"), "b")
    assert doc == {"x": {"items": [{}, {"name": "b"}]}}
    formspec.delete_path(doc, formspec.parse_path("x.items[1].name"))
    assert doc == {"x": {"items": [{}]}}            # emptied entry pruned, the padding entry stays
    formspec.delete_path(doc, formspec.parse_path("x.items[0]"))
    assert doc == {}


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_the_form_round_trips_every_example(path):
    doc = backend.parse_yaml(path.read_text(encoding="utf-8"))
    values = formspec.doc_to_values(doc)
    names = [p["name"] for p in backend.release_parameters(formspec.get_path(doc, formspec.parse_path(f"{formspec.REL}.model")))]
    params = formspec.param_values(doc, names)
    again = formspec.values_to_doc(values, doc, names, params)
    f1, p1 = backend.validate(doc)
    f2, p2 = backend.validate(again)
    assert not p1 and not p2, (p1, p2)
    assert f1 == f2


def test_the_form_edits_an_unequal_dose_schedule():
    doc = doc_of("peg_plga")
    doc["dose"] = {"schedule": [{"at_h": 0, "mg_per_kg": 0.5}, {"at_h": 120, "mg_per_kg": 5}]}
    values = formspec.doc_to_values(doc)
    assert (values["dose.schedule[1].at_h"], values["dose.schedule[1].mg_per_kg"]) == ("120", "5")
    values["dose.schedule[1].mg_per_kg"] = "2"
    f, problems = backend.validate(formspec.values_to_doc(values, doc))
    assert not problems
    assert [s.mg_per_kg for s in f.dose.schedule] == [0.5, 2.0] and f.dose.times_h == [0.0, 120.0]


def test_switching_the_surface_removes_blocks_that_no_longer_apply():
    doc = doc_of("rbc_plga")
    values = formspec.doc_to_values(doc)
    values["surface.kind"] = "peg"
    values["surface.peg.mw_kDa"] = "5"
    new = formspec.values_to_doc(values, doc)
    assert new["surface"] == {"kind": "peg", "peg": {"mw_kDa": 5}}
    assert backend.validate(new)[1] == []
    values["core.material"] = "free"
    free = formspec.values_to_doc(values, doc)
    assert "surface" not in free and "diameter_nm" not in free["core"]


def test_list_entries_exist_while_their_key_field_has_a_value():
    doc = doc_of("rbc_plga")
    values = formspec.doc_to_values(doc)
    values[f"{formspec.SRC}[1].cell"] = "platelet"
    values[f"{formspec.SRC}[0].fraction"] = "0.6"
    values[f"{formspec.SRC}[1].fraction"] = "0.4"
    hybrid = formspec.values_to_doc(values, doc)
    assert [s["cell"] for s in hybrid["surface"]["membrane"]["sources"]] == ["rbc", "platelet"]
    assert backend.validate(hybrid)[1] == []
    values[f"{formspec.TUM}.line"] = ""
    no_tumor = formspec.values_to_doc(values, doc)
    assert "tumor" not in no_tumor["subject"]
    values["payloads[0].drug"] = None
    tracer = formspec.values_to_doc(values, doc)
    assert "payloads" not in tracer


def test_fields_the_form_lacks_are_kept():
    doc = doc_of("rbc_plga")
    doc["model"] = {"overrides": {"liver.volume_L": 0.001}}
    doc["treatment"] = {"lasers": [{"at_h": 24, "wavelength_nm": 808, "power_W_per_cm2": 1, "duration_min": 5},
                                   {"at_h": 48, "wavelength_nm": 808, "power_W_per_cm2": 1, "duration_min": 5}]}
    values = formspec.doc_to_values(doc)
    values["core.diameter_nm"] = "90"
    new = formspec.values_to_doc(values, doc)
    assert new["core"]["diameter_nm"] == 90
    assert new["model"]["overrides"] == {"liver.volume_L": 0.001}
    assert len(new["treatment"]["lasers"]) == 2


def test_numbers_with_units_go_to_the_validator():
    assert formspec.parse_number("70") == 70 and formspec.parse_number(" 0.5 ") == 0.5
    assert formspec.parse_number("0.07 um") == "0.07 um" and formspec.parse_number("") is None
    assert formspec.parse_number_list("0, 24 72") == [0, 24, 72]
    doc = doc_of("rbc_plga")
    doc["core"]["diameter_nm"] = "0.07 um"
    f, problems = backend.validate(doc)
    assert not problems and f.core.diameter_nm == pytest.approx(70)


@pytest.mark.parametrize("edit, where", [
    (lambda d: d["core"].__setitem__("diameter_nm", -5), ("field", "core.diameter_nm")),
    (lambda d: d["core"].__setitem__("diameter_nm", "abc"), ("field", "core.diameter_nm")),
    (lambda d: d["subject"]["tumor"].__setitem__("line", "U87"), ("field", "subject.tumor.type")),
    (lambda d: d["payloads"][0]["release"].__setitem__("params", {}), ("params", formspec.PARAMS_PATH)),
    (lambda d: d["surface"]["membrane"]["sources"].append({"cell": "platelet"}),
     ("field", "surface.membrane.sources[0].fraction")),
    (lambda d: d["core"].__setitem__("diametre_nm", 5), ("group", "core")),
    (lambda d: d["dose"].__setitem__("times_h", [0, "x"]), ("field", "dose.times_h")),
    (lambda d: d["simulate"].__setitem__("end_h", 10) or d.__setitem__(
        "treatment", {"lasers": [{"at_h": 24, "wavelength_nm": 808, "power_W_per_cm2": 1, "duration_min": 5}]}),
     ("group", "treatment")),
])
def test_each_validation_message_is_placed_beside_its_field(edit, where):
    doc = doc_of("rbc_plga")
    edit(doc)
    f, problems = backend.validate(doc)
    assert f is None and problems
    assert formspec.place_problem(*problems[0]) == where, problems


# ---------------------------------------------------------------------------------------------
# input from the browser
# ---------------------------------------------------------------------------------------------
def test_yaml_bombs_aliases_duplicates_and_size_are_refused():
    bomb = "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n"
    with pytest.raises(backend.AppInputError, match="aliases"):
        backend.parse_yaml(bomb)
    with pytest.raises(backend.AppInputError, match="larger than"):
        backend.parse_yaml("a: " + "x" * (backend.MAX_UPLOAD_BYTES + 1))
    with pytest.raises(backend.user_error_types(), match="duplicate key"):
        backend.parse_yaml("a: 1\na: 2\n")
    with pytest.raises(backend.user_error_types(), match="nesting"):
        backend.parse_yaml("a: " + "[" * 200 + "]" * 200)
    with pytest.raises(backend.user_error_types(), match="not valid YAML"):
        backend.parse_yaml("a: [1, 2\n")


def test_uploads_are_size_limited_and_decoded_strictly():
    assert backend.decode_upload(upload(b"animal,time_h\n")) == b"animal,time_h\n"
    with pytest.raises(backend.AppInputError, match="larger than 2 MB"):
        backend.decode_upload(upload(b"x" * (backend.MAX_UPLOAD_BYTES + 10)))
    with pytest.raises(backend.AppInputError):
        backend.decode_upload("data:text/csv;base64,@@@not base64@@@")
    with pytest.raises(backend.AppInputError):
        backend.decode_upload(None)
    with pytest.raises(backend.AppInputError, match="UTF-8"):
        backend.decode_text(b"\xff\xfe\x00bad")
    assert backend.lab_suffix("../../etc/data.CSV") == ".csv"       # only the ending is looked at
    with pytest.raises(backend.AppInputError):
        backend.lab_suffix("data.exe")


def test_download_names_are_sanitised():
    assert backend.safe_filename("../../etc/passwd", ".yaml") == "etc_passwd.yaml"
    assert backend.safe_filename("RBC-PLGA DOX (1)", ".csv") == "RBC-PLGA_DOX_1.csv"
    assert backend.safe_filename("", ".zip") == "design.zip"


def test_example_keys_never_become_paths():
    with pytest.raises(backend.AppInputError):
        backend.example_doc("example:../../pyproject")
    assert backend.example_file("../pyproject.toml") is None
    assert backend.example_file("/etc/passwd") is None


# ---------------------------------------------------------------------------------------------
# the package behind the pages
# ---------------------------------------------------------------------------------------------
def test_choices_come_from_the_libraries():
    materials = dict(backend.choices("materials"))
    assert "plga" in materials and "free" in materials
    assert "4T1" in dict(backend.choices("cell_lines"))
    models = dict(backend.choices("release_models"))
    assert "first_order" in models and "k_per_h" in models["first_order"]
    assert [p["name"] for p in backend.release_parameters("FIRST_ORDER")] == ["k_per_h"]
    assert backend.release_parameters("no-such-model") == []


def test_starting_designs_include_examples_and_published_arms():
    keys = [k for k, _ in backend.example_designs()]
    assert backend.default_design_key() in keys
    published = [k for k in keys if k.startswith("ev:")]
    assert published
    f, problems = backend.validate(backend.example_doc(published[0]))
    assert f is not None, problems


def test_report_zip_holds_the_cli_outputs(tmp_path):
    f = nanocloak.load(ROOT / "examples" / "rbc_plga.yaml")
    r = backend.simulate(f)
    names = set(zipfile.ZipFile(io.BytesIO(backend.report_zip(r, tmp_path))).namelist())
    assert {"report.html", "timecourse.csv", "result.json", "formulation.yaml", "parameters.csv"} <= names
    assert "<html" in backend.report_html(r, tmp_path).lower()
    assert list(tmp_path.iterdir()) == []                     # the staging folders are removed
    assert backend.timecourse_csv(r).startswith("t_h,compartment,pct_id,pct_id_per_g")


def test_coating_plan_for_a_membrane_design_and_a_clear_refusal_otherwise():
    plan = backend.coating_plan(nanocloak.load(ROOT / "examples" / "rbc_plga.yaml"), 2.0)
    assert plan["core_mg"] == 2.0 and plan["particles"] > 0 and plan["donors"][0]["cell"] == "rbc"
    assert "<html" in backend.batch_sheet_html(nanocloak.load(ROOT / "examples" / "rbc_plga.yaml"), 2.0).lower()
    with pytest.raises(backend.user_error_types(), match="membrane"):
        backend.coating_plan(nanocloak.load(ROOT / "examples" / "bare_plga.yaml"), 1.0)


def test_nca_of_the_example_lab_data():
    path = backend.example_file("lab_data/rbc_plga_serial.csv")
    if path is None:
        pytest.skip("examples/lab_data is not present")
    f = nanocloak.load(ROOT / "examples" / "rbc_plga.yaml")
    analyses = backend.nca(backend.load_lab(path, f), None, "linear")
    assert analyses[0].matrix == "blood" and analyses[0].result.mean.t_half_h > 0


def test_evidence_comparison_gives_the_models_value_of_each_point():
    study_id = next(sid for sid, _ in backend.evidence_studies()
                    if len({s.id: s for s in backend.evidence_base()}[sid].usable_points) > 0)
    c = backend.evidence_comparison(study_id)
    used = [r for r in c["rows"] if r["usable"]]
    assert used and any(r["model"] is not None for r in used)
    with pytest.raises(backend.AppInputError):
        backend.evidence_comparison("no-such-study")


def test_a_space_takes_the_current_design_and_never_a_path(tmp_path):
    current = doc_of("rbc_plga")
    space = backend.space_doc(backend.DEFAULT_SPACE_TEXT, current)
    assert space["base"] == current
    assert backend.check_space(space, tmp_path)["n"] == 64
    with pytest.raises(backend.AppInputError, match="file paths"):
        backend.space_doc("base: ../examples/rbc_plga.yaml\nvary: {}\n", current)
    if backend.example_spaces():
        text = backend.example_space_text(backend.example_spaces()[0][0])
        assert isinstance(backend.space_doc(text, current)["base"], dict)


def test_screen_job_ranks_designs_inline(tmp_path):
    space = backend.space_doc(backend.DEFAULT_SPACE_TEXT.replace("n: 64", "n: 8"), doc_of("rbc_plga"))
    seen = []
    meta = backend.run_job("screen", {"space": space}, tmp_path, lambda d, t, m="": seen.append((d, t)))
    assert meta["n_designs"] == 8 and seen[-1] == (8, 8)
    import pandas as pd

    designs = pd.read_csv(tmp_path / "designs.csv")
    assert len(designs) == 8 and designs["pareto"].any()
    assert "nanocloak: 1" in backend.top_design_yaml(space, meta["top_ids"][0], tmp_path)


def test_fit_job_calibrates_the_design_to_lab_data(tmp_path):
    f = nanocloak.load(ROOT / "examples" / "rbc_plga.yaml")
    r = nanocloak.simulate(f)
    import numpy as np

    rows = [f"M{a},{t},blood,{float(np.interp(t, r.t_h, r.series['blood_sample'])) * (1 + 0.03 * a):.5f},%ID"
            for a in (1, 2) for t in (0.083, 1, 4, 24, 72)]
    data = tmp_path / "lab.csv"
    data.write_text("animal,time_h,matrix,value,unit\n" + "\n".join(rows) + "\n", encoding="utf-8")
    seen = []
    out = backend.run_job("fit", {"formulation": doc_of("rbc_plga"), "lab_path": str(data), "method": "lsq"}, tmp_path,
                          lambda d, t, m="": seen.append((d, t)))
    assert out["estimates"] and all(v > 0 for v in out["estimates"].values())
    assert backend.validate(backend.parse_yaml(out["calibrated_yaml"]))[0] is not None
    assert seen[-1][0] == seen[-1][1]


# ---------------------------------------------------------------------------------------------
# sessions and worker jobs
# ---------------------------------------------------------------------------------------------
def test_sessions_have_private_folders_and_checked_ids(tmp_path):
    store = SessionStore(tmp_path / "root")
    sid = new_session_id()
    s = store.get(sid)
    assert s.folder.parent == store.root and s.folder.is_dir()
    for bad in ("../x", "", None, "a" * 31, "Z" * 32, sid + "/.."):
        with pytest.raises(SessionError):
            store.get(bad)
    for bad_name in ("../escape.csv", "a/b.csv", ".hidden", ""):
        with pytest.raises(SessionError):
            s.path(bad_name)
    assert s.path("labdata.csv").parent == s.folder
    store.close()
    assert not store.root.exists()


def test_old_sessions_are_evicted_with_their_folders(tmp_path, monkeypatch):
    from nanocloak.app import sessions

    monkeypatch.setattr(sessions, "MAX_SESSIONS", 3)
    store = SessionStore(tmp_path / "root")
    first = store.get(new_session_id())
    for _ in range(4):
        store.get(new_session_id())
    assert len(store) <= 4 and not first.folder.exists()


def _wait(jobs, job_id, states=("done", "failed", "cancelled"), timeout=60.0):
    end = time.time() + timeout
    while time.time() < end:
        st = jobs.status(job_id)
        if st["state"] in states:
            return st
        time.sleep(0.1)
    raise AssertionError(f"job still {jobs.status(job_id)}")


def test_jobs_run_in_worker_processes_queue_and_cancel(tmp_path):
    jobs = JobManager(tmp_path / "jobs", max_running=1)
    try:
        a = jobs.submit("s1", "selftest", {"steps": 5, "sleep": 0.05})
        with pytest.raises(RuntimeError, match="already running"):
            jobs.submit("s1", "selftest", {"steps": 1})
        b = jobs.submit("s2", "selftest", {"steps": 200, "sleep": 0.05})
        assert jobs.status(b)["state"] == "queued"          # one at a time here
        assert jobs.status(a, owner="s2") is None            # another session's job is not visible
        st = _wait(jobs, a)
        assert st["state"] == "done" and st["done"] == st["total"] == 5
        assert jobs.result(a) == {"ok": True}
        _wait(jobs, b, states=("running",))
        assert jobs.cancel(b, owner="s2")
        assert jobs.status(b)["state"] == "cancelled"
    finally:
        jobs.shutdown()
    assert not (tmp_path / "jobs").exists()


def test_a_failing_job_reports_its_message(tmp_path):
    jobs = JobManager(tmp_path / "jobs")
    try:
        bad_space = {"space": {"base": doc_of("rbc_plga"), "vary": {"core.no_such_field": {"range": [1, 2]}},
                               "sampling": {"method": "sobol", "n": 4}, "objectives": [{"maximize": "tumor_pct_id_24h"}]}}
        j = jobs.submit("s1", "screen", bad_space)
        st = _wait(jobs, j)
        assert st["state"] == "failed" and "no_such_field" in st["error"]
    finally:
        jobs.shutdown()


# ---------------------------------------------------------------------------------------------
# figures: the page's numbers are the API's
# ---------------------------------------------------------------------------------------------
def test_figures_hold_the_results_own_numbers():
    from nanocloak.app import figures

    f = nanocloak.load(ROOT / "examples" / "gold_nanocage_4t1_nir.yaml")
    r = nanocloak.simulate(f)
    tc = r.timecourse
    fig = figures.curves(r, figures.CURVE_COMPARTMENTS, "pct_id", True)
    assert {t["meta"] for t in fig["data"]} >= {"blood_sample", "liver", "tumor"}
    for trace in fig["data"]:
        rows = tc[tc["compartment"] == trace["meta"]]
        assert trace["x"] == rows["t_h"].tolist()
        assert trace["y"] == rows["pct_id"].tolist()
    bars = figures.organ_bars(r, [24.0], "pct_id_per_g")["data"][0]
    liver = tc[(tc["compartment"] == "liver") & (tc["t_h"] == 24.0)]["pct_id_per_g"].item()
    assert bars["y"][bars["x"].index("liver")] == liver
    drug = figures.drug(r)["data"]
    name, payload = next(iter(r.payloads.items()))
    assert drug[0]["y"] == [float(v) for v in payload.released_pct]
    temp = figures.temperature(r)["data"]
    assert temp[0]["y"] == [float(v) for v in r.therapy.heating[0].tumor_C]
    vol = figures.volume(r)["data"]
    assert vol[1]["y"] == [float(v) for v in r.therapy.treated_mm3]
    import json

    json.dumps([figures.tumor(r), figures.drug(r), figures.empty("x")], allow_nan=False)   # plain JSON, no NaN


# ---------------------------------------------------------------------------------------------
# the Dash app and the command
# ---------------------------------------------------------------------------------------------
def test_the_app_refuses_foreign_hosts_and_builds_its_layout():
    pytest.importorskip("dash")
    from nanocloak.app import create_app
    from nanocloak.app.server import allowed_hosts

    app = create_app(allowed_hosts=allowed_hosts("127.0.0.1", 8050))
    try:
        client = app.server.test_client()
        assert client.get("/", headers={"Host": "127.0.0.1:8050"}).status_code == 200
        assert client.get("/", headers={"Host": "evil.example:8050"}).status_code == 403
        layout = client.get("/_dash-layout", headers={"Host": "localhost:8050"})
        assert layout.status_code == 200 and b"yaml-text" in layout.data
        assert app.server.config["MAX_CONTENT_LENGTH"] >= 4 * backend.MAX_UPLOAD_BYTES / 3
    finally:
        app._nanocloak_state.jobs.shutdown()
        app._nanocloak_state.store.close()


def test_host_warning_only_off_this_machine():
    from nanocloak.app.server import allowed_hosts, host_warning

    assert host_warning("127.0.0.1") is None and host_warning("localhost") is None
    assert "0.0.0.0" in host_warning("0.0.0.0")
    assert allowed_hosts("0.0.0.0", 8050) is None
    assert "127.0.0.1:8050" in allowed_hosts("127.0.0.1", 8050)


def test_the_app_command_registers_and_explains_a_missing_extra(monkeypatch):
    import typer
    from typer.testing import CliRunner

    from nanocloak import cli_app

    app = typer.Typer()

    @app.callback()
    def root():
        """nanocloak"""

    cli_app.register(app)
    result = CliRunner().invoke(app, ["app", "--help"])
    assert result.exit_code == 0 and "--port" in result.output and "--host" in result.output
    monkeypatch.setattr(cli_app, "missing_dependencies", lambda: ["dash"])
    result = CliRunner().invoke(app, ["app", "--port", "9"])
    assert result.exit_code == 2


def test_space_text_edits_do_not_touch_the_design():
    current = doc_of("rbc_plga")
    before = copy.deepcopy(current)
    backend.space_doc(backend.DEFAULT_SPACE_TEXT, current)["base"]["core"]["diameter_nm"] = 1
    assert current == before

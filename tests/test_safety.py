"""Never lose a user's file, never accept the impossible (issue 11): output folders, single files,
package data, and the inputs that used to pass or crash."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from conftest import ROOT
from nanocloak.io import output_dir
from nanocloak.cli.main import app

RUNNER = CliRunner()
EXAMPLE = ROOT / "examples" / "rbc_plga.yaml"
BASE = yaml.safe_load(EXAMPLE.read_text())


def run(*args, cwd: Path | None = None):
    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = RUNNER.invoke(app, [str(a) for a in args])
    finally:
        os.chdir(old)
    assert "Traceback" not in (result.stdout or "") + (result.stderr or "")
    return result


def write(tmp_path: Path, doc, name="f.yaml") -> Path:
    p = tmp_path / name
    p.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False))
    return p


def no_staging_left(folder: Path) -> bool:
    return not any(p.name.startswith(".nanocloak") for p in folder.rglob("*"))


# ---------------------------------------------------------------------------------------------
# output folders
# ---------------------------------------------------------------------------------------------
def test_a_folder_with_a_user_file_is_refused_then_written_beside_with_force(tmp_path):
    out = tmp_path / "results"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    refused = run("simulate", EXAMPLE, "--out", out)
    assert refused.exit_code == 2 and "not empty" in refused.stderr and str(out) in refused.stderr
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    forced = run("simulate", EXAMPLE, "--out", out, "--force")
    assert forced.exit_code == 0, forced.stderr
    assert (out / "notes.txt").read_text() == "my notes"
    assert (out / "report.html").is_file() and (out / output_dir.MANIFEST_NAME).is_file()
    assert no_staging_left(tmp_path)


def test_out_dot_never_deletes_the_working_directory(tmp_path):
    f = write(tmp_path, BASE, "mine.yaml")
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    refused = run("simulate", "mine.yaml", "--out", ".", cwd=tmp_path)
    assert refused.exit_code == 2
    assert f.is_file() and (tmp_path / "data.csv").is_file()
    forced = run("simulate", "mine.yaml", "--out", ".", "--force", cwd=tmp_path)
    assert forced.exit_code == 0
    assert f.read_text() == yaml.safe_dump(BASE, sort_keys=False) and (tmp_path / "data.csv").is_file()
    assert no_staging_left(tmp_path)


def test_a_rerun_replaces_only_listed_files_and_drops_what_it_no_longer_makes(tmp_path):
    out = tmp_path / "o"
    assert run("simulate", EXAMPLE, "--out", out).exit_code == 0
    manifest = json.loads((out / output_dir.MANIFEST_NAME).read_text())
    assert "drug.png" in manifest["files"]
    (out / "mine.txt").write_text("keep")                     # a user's file added later
    tracer = copy.deepcopy(BASE)
    del tracer["payloads"]
    assert run("simulate", write(tmp_path, tracer), "--out", out).exit_code == 0
    assert not (out / "drug.png").exists()                     # listed before, not made now: removed
    assert (out / "mine.txt").read_text() == "keep"            # never listed: untouched
    assert "mine.txt" not in json.loads((out / output_dir.MANIFEST_NAME).read_text())["files"]


def test_force_never_replaces_a_users_file_of_the_same_name(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "report.html").write_text("<p>my report</p>")
    result = run("simulate", EXAMPLE, "--out", out, "--force")
    assert result.exit_code == 2 and "report.html" in result.stderr
    assert (out / "report.html").read_text() == "<p>my report</p>"
    assert sorted(p.name for p in out.iterdir()) == ["report.html"]


def test_a_failed_run_leaves_nothing_and_a_new_folder_is_not_created(tmp_path):
    bad = copy.deepcopy(BASE)
    bad["dose"]["mg_per_kg"] = -1
    out = tmp_path / "new"
    assert run("simulate", write(tmp_path, bad), "--out", out).exit_code == 2
    assert not out.exists()


def test_the_folder_keeps_normal_permissions(tmp_path):
    out = tmp_path / "o"
    assert run("simulate", EXAMPLE, "--out", out).exit_code == 0
    assert out.stat().st_mode & 0o077 != 0     # not the 0700 of a temporary folder


def test_stale_staging_is_cleaned_only_when_unlocked_and_old(tmp_path):
    killed = tmp_path / f"{output_dir.STAGING_PREFIX}dead"
    killed.mkdir()
    marker = killed / output_dir.STAGING_MARKER
    marker.write_text("pid 1\n")
    old = time.time() - 2 * output_dir.STALE_AFTER_S
    os.utime(marker, (old, old))
    foreign = tmp_path / f"{output_dir.STAGING_PREFIX}not-ours"   # no marker: not nanocloak's
    foreign.mkdir()
    live = output_dir._open_staging(tmp_path)                      # a running command's, locked
    os.utime(live.root / output_dir.STAGING_MARKER, (old, old))
    removed = output_dir.clean_stale_staging(tmp_path)
    assert removed == [killed] and foreign.is_dir() and live.root.is_dir()
    output_dir._close_staging(live)


def test_every_folder_command_refuses_a_foreign_non_empty_folder(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "x.txt").write_text("x")
    lab = ROOT / "examples" / "lab_data" / "rbc_plga_sparse.csv"
    release = sorted((ROOT / "examples" / "release_data").glob("*.csv"))[0]
    for args in (["compare", EXAMPLE, EXAMPLE], ["make", EXAMPLE], ["nca", lab, "--formulation", EXAMPLE],
                 ["release", "fit", release], ["release", "simulate", EXAMPLE]):
        result = run(*args, "--out", out)
        assert result.exit_code == 2, (args, result.stderr)
        assert sorted(p.name for p in out.iterdir()) == ["x.txt"], args


# ---------------------------------------------------------------------------------------------
# single files and package data
# ---------------------------------------------------------------------------------------------
def test_export_sbml_never_overwrites_a_foreign_file(tmp_path):
    mine = tmp_path / "model.xml"
    mine.write_text("<my model/>")
    assert run("export-sbml", EXAMPLE, "-o", mine).exit_code == 2
    assert mine.read_text() == "<my model/>"
    ours = tmp_path / "ours.xml"
    assert run("export-sbml", EXAMPLE, "-o", ours).exit_code == 0
    assert run("export-sbml", EXAMPLE, "-o", ours).exit_code == 0        # its own file: replaced
    assert run("export-sbml", EXAMPLE, "-o", mine, "--force").exit_code == 0


def _package_data_digest() -> str:
    digest = hashlib.sha256()
    for p in sorted((ROOT / "src" / "nanocloak" / "data").rglob("*.yaml")):
        digest.update(p.read_bytes())
    return digest.hexdigest()


def test_calibrate_tumor_writes_only_where_out_says(tmp_path):
    before = _package_data_digest()
    result = run("calibrate", "tumor")
    assert result.exit_code == 0 and "sites:" in result.stdout          # stdout by default
    target = tmp_path / "tumor.yaml"
    assert run("calibrate", "tumor", "--out", target).exit_code == 0
    assert yaml.safe_load(target.read_text())["sites"]["subcutaneous"]["QTC"]["value"] > 0
    assert _package_data_digest() == before
    foreign = tmp_path / "foreign.yaml"
    foreign.write_text("mine: 1\n")
    assert run("calibrate", "tumor", "--out", foreign).exit_code == 2
    assert foreign.read_text() == "mine: 1\n"


# ---------------------------------------------------------------------------------------------
# impossible inputs: exit 2, the field named, no traceback
# ---------------------------------------------------------------------------------------------
def _with(path: str, value):
    doc = copy.deepcopy(BASE)
    cur = doc
    keys = path.split(".")
    for k in keys[:-1]:
        cur = cur[int(k)] if k.isdigit() else cur.setdefault(k, {})
    cur[keys[-1]] = value
    return doc


@pytest.mark.parametrize("path, value, named", [
    ("payloads.0.loading_wt_pct", 99.999, "loading_wt_pct"),
    ("dose.mg_per_kg", True, "mg_per_kg"),
    ("dose.mg_per_kg", float("nan"), "finite"),
    ("core.diameter_nm", "nan", "finite"),
    ("model.overrides", {"liver.partition": -1.0}, "liver.partition"),
    ("model.overrides", {"calibration.mps_uptake_scale": float("nan")}, "mps_uptake_scale"),
    ("subject.tumor.type", "lung", "4T1"),
])
def test_impossible_values_are_refused(tmp_path, path, value, named):
    result = run("simulate", write(tmp_path, _with(path, value)))
    assert result.exit_code == 2 and named in result.stderr, result.stderr
    assert result.stdout == ""


def test_lab_type_names_and_inference_from_the_line(tmp_path):
    doc = _with("subject.tumor.line", "B16F10")
    doc["subject"]["tumor"]["type"] = "melanoma"
    doc["subject"]["tumor"]["model"] = "allograft"
    assert run("simulate", write(tmp_path, doc), "--json").exit_code == 0
    del doc["subject"]["tumor"]["type"]
    assert run("simulate", write(tmp_path, doc), "--json").exit_code == 0


def test_duplicate_keys_and_deep_nesting(tmp_path):
    text = EXAMPLE.read_text() + "name: second\n"
    result = run("simulate", write(tmp_path, text))
    assert result.exit_code == 2 and "duplicate key 'name'" in result.stderr
    result = run("simulate", write(tmp_path, "x: " + "[" * 10_000 + "]" * 10_000 + "\n", "deep.yaml"))
    assert result.exit_code == 2 and "nesting" in result.stderr


@pytest.mark.parametrize("rows, needle", [
    ("", "no data rows"),
    ("1,0\n2,0\n4,0\n8,0\n", "hardly change"),
    ("1,100\n2,100\n4,100\n8,100\n", "hardly change"),
    ("1,40\n2,40.5\n4,41\n8,40\n", "hardly change"),
    ("1,10\n2,60\n4,20\n8,30\n", "falls"),
    ("1,10\n2,30\n", "time point"),
])
def test_degenerate_release_data(tmp_path, rows, needle):
    f = tmp_path / "rel.csv"
    f.write_text("time_h,released_pct\n" + rows)
    result = run("release", "fit", f)
    assert result.exit_code == 2 and needle in result.stderr, result.stderr


def test_absurd_nca_values(tmp_path):
    for row in ("S1,1e300,blood,50,%ID", "S1,1,blood,1e300,%ID", "S1,1,blood,5000,%ID"):
        f = tmp_path / "lab.csv"
        f.write_text("animal,time_h,matrix,value,unit\n" + row + "\nS2,2,blood,40,%ID\nS3,4,blood,30,%ID\n")
        result = run("nca", f)
        assert result.exit_code == 2 and "lab.csv" in result.stderr, result.stderr


def test_a_screen_of_only_invalid_designs_stops_before_any_work(tmp_path):
    space = {"base": str(EXAMPLE), "vary": {"dose.mg_per_kg": {"range": [2000, 3000]}},
             "sampling": {"method": "lhs", "n": 4, "seed": 1}, "objectives": [{"maximize": "tumor_pct_id_24h"}]}
    out = tmp_path / "screen"
    result = run("screen", "run", write(tmp_path, space, "space.yaml"), "--serial", "--out", out)
    assert result.exit_code == 2 and "none of the 4 designs" in result.stderr
    assert not out.exists()


def test_piped_progress_prints_plain_lines():
    import io

    from rich.console import Console

    from nanocloak.cli.common import LineProgress

    buf = io.StringIO()
    progress = LineProgress(Console(file=buf, width=80), every_s=0.0)
    with progress:
        task = progress.add_task("simulating", total=4)
        for _ in range(4):
            progress.advance(task)
    assert "simulating: 4/4" in buf.getvalue() and "/s" in buf.getvalue()

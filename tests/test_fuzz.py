"""Fuzzing the file boundary: formulation files, lab-data CSVs, release CSVs and space files.

Each case changes one thing in a valid file (a wrong type, an out-of-range or non-finite number, an
unknown or duplicated key, a value with its unit in the string, another encoding or line ending, a
decimal comma, a huge file) and runs the command a user would run. The rules checked: never a
traceback, never exit 1 (a bug); exit 0 or exit 2 with one message that names what was changed;
nothing written when the run fails. `-m slow` runs ten times as many cases.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import ROOT
from nanocloak.cli.main import app

RUNNER = CliRunner()
BASE = yaml.safe_load((ROOT / "examples" / "rbc_plga.yaml").read_text())
CI_CASES = {"formulation": 110, "lab": 40, "release": 35, "space": 20}   # >= 200 in all
SLOW_FACTOR = 10
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
                derandomize=True)


def run_cli(args: list[str]):
    result = RUNNER.invoke(app, args, catch_exceptions=True)
    text = (result.stdout or "") + (result.stderr or "")
    assert "Traceback" not in text, text
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 2), f"exit {result.exit_code}: {text}"
    return result


# ---------------------------------------------------------------------------------------------
# mutations of a YAML document
# ---------------------------------------------------------------------------------------------
def leaf_paths(node, prefix=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from leaf_paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from leaf_paths(v, prefix + (i,))
    else:
        yield prefix


def set_path(doc, path, value):
    cur = doc
    for p in path[:-1]:
        cur = cur[p]
    cur[path[-1]] = value


def path_text(path) -> str:
    text = ""
    for p in path:
        text += f"[{p}]" if isinstance(p, int) else (f".{p}" if text else str(p))
    return text


BAD_VALUES = st.sampled_from([True, False, None, -1, 0, -1e-9, 1e300, -1e300, float("nan"), float("inf"),
                              "nan", "inf", "", "abc", "70 nm", "70 furlongs", "5 mg/kg", "1e400", [], {}, [1, 2],
                              {"value": 1}, "yes", 10**30, "0x10", "１２"])


@st.composite
def mutated_formulation(draw):
    doc = copy.deepcopy(BASE)
    paths = [p for p in leaf_paths(doc) if p]
    kind = draw(st.sampled_from(["value", "value", "value", "unknown_key", "drop_key", "duplicate_key"]))
    path = draw(st.sampled_from(paths))
    if kind == "value":
        set_path(doc, path, draw(BAD_VALUES))
        text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    elif kind == "unknown_key":
        parent = path[:-1]
        target = doc
        for p in parent:
            target = target[p]
        if isinstance(target, dict):
            target[draw(st.sampled_from(["diameter_um", "colour", "Dose", "mg_kg", "time_s"]))] = 1
        text = yaml.safe_dump(doc, sort_keys=False)
    elif kind == "drop_key":
        parent, key = path[:-1], path[-1]
        target = doc
        for p in parent:
            target = target[p]
        if isinstance(target, dict):
            del target[key]
        text = yaml.safe_dump(doc, sort_keys=False)
    else:
        text = yaml.safe_dump(doc, sort_keys=False) + "name: another name\n"
        path = ("name",)
    return kind, path, text


ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "crlf", "latin-1", "utf-16"])


def encode(text: str, how: str) -> bytes:
    if how == "crlf":
        return text.replace("\n", "\r\n").encode()
    if how == "latin-1":
        return (text + "# caf\xe9\n").encode("latin-1", errors="replace")
    return text.encode(how)


def check_formulation_case(tmp_path: Path, kind: str, path, text: str, how: str) -> None:
    f = tmp_path / "case.yaml"
    f.write_bytes(encode(text, how))
    out = tmp_path / "out"
    result = run_cli(["simulate", str(f), "--json", "--out", str(out)])
    if result.exit_code == 0:
        json.loads(result.stdout)
        assert out.is_dir()
        return
    message = result.stderr
    assert result.stdout == "", "nothing on stdout for a bad file"
    assert not out.exists(), "nothing written on failure"
    if how in ("latin-1", "utf-16"):
        assert "UTF-8" in message or "not valid YAML" in message
        return
    if kind == "duplicate_key":
        assert "duplicate key 'name'" in message
    elif kind in ("value", "unknown_key", "drop_key") and path:
        names = [str(p) for p in path if not isinstance(p, int)]
        assert any(n in message for n in names[-2:]) or "nanocloak" in message, (path, message)


@settings(FUZZ, max_examples=CI_CASES["formulation"])
@given(case=mutated_formulation(), how=ENCODINGS)
def test_formulation_files(tmp_path_factory, case, how):
    check_formulation_case(tmp_path_factory.mktemp("f"), *case, how)


@pytest.mark.slow
@settings(FUZZ, max_examples=CI_CASES["formulation"] * SLOW_FACTOR)
@given(case=mutated_formulation(), how=ENCODINGS)
def test_formulation_files_slow(tmp_path_factory, case, how):
    check_formulation_case(tmp_path_factory.mktemp("f"), *case, how)


def test_deep_nesting_and_huge_files(tmp_path):
    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    result = run_cli(["simulate", str(deep)])
    assert result.exit_code == 2 and "nesting" in result.stderr
    huge = tmp_path / "huge.yaml"
    huge.write_text(yaml.safe_dump(BASE) + "# " + "x" * 3_000_000 + "\n")
    result = run_cli(["simulate", str(huge)])
    assert result.exit_code == 2 and "MB" in result.stderr


# ---------------------------------------------------------------------------------------------
# lab data and release CSVs
# ---------------------------------------------------------------------------------------------
LAB_ROWS = [["S1", "0.0833", "blood", "90", "%ID"], ["S2", "1", "blood", "70", "%ID"],
            ["S3", "4", "blood", "50", "%ID"], ["S4", "24", "blood", "20", "%ID"], ["S5", "48", "blood", "8", "%ID"]]
LAB_HEADER = ["animal", "time_h", "matrix", "value", "unit"]
CELL_VALUES = st.sampled_from(["", "abc", "-5", "1e300", "nan", "inf", "1,5", "70 nm", "TRUE", "0", "1e-300",
                               "999999999999", "plasma", "%ID/g", "ug/mL", "h", "\u00b5g"])


@st.composite
def mutated_table(draw, header, rows):
    header, rows = list(header), [list(r) for r in rows]
    kind = draw(st.sampled_from(["cell", "cell", "header", "decimal_comma", "drop_rows", "extra_column"]))
    if kind == "cell":
        rows[draw(st.integers(0, len(rows) - 1))][draw(st.integers(0, len(header) - 1))] = draw(CELL_VALUES)
        sep = ","
    elif kind == "header":
        header[draw(st.integers(0, len(header) - 1))] = draw(st.sampled_from(["", "time", "Time (h)", "value", "x"]))
        sep = ","
    elif kind == "decimal_comma":
        rows = [[c.replace(".", ",") for c in r] for r in rows]
        sep = ";"
    elif kind == "drop_rows":
        rows = rows[:draw(st.integers(0, 1))]
        sep = ","
    else:
        header.append("extra")
        rows = [r + ["1"] for r in rows]
        sep = ","
    text = "\n".join(sep.join(r) for r in [header, *rows]) + "\n"
    return text, draw(ENCODINGS)


def check_table_case(tmp_path: Path, args: list[str], text: str, how: str) -> None:
    f = tmp_path / "data.csv"
    f.write_bytes(encode(text, how))
    out = tmp_path / "out"
    result = run_cli([*args[:1], *args[1:], str(f), "--json", "--out", str(out)] if args[0] == "nca" else
                     [*args, str(f), "--json", "--out", str(out)])
    if result.exit_code == 2:
        assert result.stdout == ""
        assert not out.exists()
        assert "data.csv" in result.stderr, result.stderr   # the message names the file
    else:
        json.loads(result.stdout)


@settings(FUZZ, max_examples=CI_CASES["lab"])
@given(case=mutated_table(LAB_HEADER, LAB_ROWS))
def test_lab_data_csv(tmp_path_factory, case):
    check_table_case(tmp_path_factory.mktemp("lab"), ["nca"], *case)


@pytest.mark.slow
@settings(FUZZ, max_examples=CI_CASES["lab"] * SLOW_FACTOR)
@given(case=mutated_table(LAB_HEADER, LAB_ROWS))
def test_lab_data_csv_slow(tmp_path_factory, case):
    check_table_case(tmp_path_factory.mktemp("lab"), ["nca"], *case)


RELEASE_HEADER = ["time_h", "released_pct"]
RELEASE_ROWS = [["0.5", "8.1"], ["1", "15.2"], ["2", "26.9"], ["4", "44.0"], ["8", "63.5"], ["24", "88.7"]]
RELEASE_ARGS = ["release", "fit", "--models", "first_order,higuchi,korsmeyer_peppas"]


@settings(FUZZ, max_examples=CI_CASES["release"])
@given(case=mutated_table(RELEASE_HEADER, RELEASE_ROWS))
def test_release_csv(tmp_path_factory, case):
    check_table_case(tmp_path_factory.mktemp("rel"), RELEASE_ARGS, *case)


@pytest.mark.slow
@settings(FUZZ, max_examples=CI_CASES["release"] * SLOW_FACTOR)
@given(case=mutated_table(RELEASE_HEADER, RELEASE_ROWS))
def test_release_csv_slow(tmp_path_factory, case):
    check_table_case(tmp_path_factory.mktemp("rel"), RELEASE_ARGS, *case)


# ---------------------------------------------------------------------------------------------
# space files
# ---------------------------------------------------------------------------------------------
SPACE = {"base": str(ROOT / "examples" / "rbc_plga.yaml"),
         "vary": {"core.diameter_nm": {"range": [50, 200], "scale": "log"}, "dose.mg_per_kg": {"range": [1, 20]}},
         "sampling": {"method": "lhs", "n": 2, "seed": 1},
         "objectives": [{"maximize": "tumor_pct_id_24h"}], "top": 2}


@st.composite
def mutated_space(draw):
    doc = copy.deepcopy(SPACE)
    path = draw(st.sampled_from([p for p in leaf_paths(doc) if p and p != ("base",)]))
    set_path(doc, path, draw(BAD_VALUES))
    return path, yaml.safe_dump(doc, sort_keys=False)


def check_space_case(tmp_path: Path, path, text: str) -> None:
    f = tmp_path / "space.yaml"
    f.write_text(text)
    out = tmp_path / "out"
    result = run_cli(["screen", "run", str(f), "--serial", "--out", str(out), "--json"])
    if result.exit_code == 2:
        assert result.stdout == ""
        assert not out.exists() or not any(out.iterdir()), "nothing written on failure"
        assert "space.yaml" in result.stderr or str(path[-1]) in result.stderr, result.stderr


@settings(FUZZ, max_examples=CI_CASES["space"])
@given(case=mutated_space())
def test_space_files(tmp_path_factory, case):
    check_space_case(tmp_path_factory.mktemp("space"), *case)


@pytest.mark.slow
@settings(FUZZ, max_examples=CI_CASES["space"] * SLOW_FACTOR)
@given(case=mutated_space())
def test_space_files_slow(tmp_path_factory, case):
    check_space_case(tmp_path_factory.mktemp("space"), *case)


def test_ci_case_count_meets_the_bar():
    assert sum(CI_CASES.values()) >= 200
    assert math.prod([SLOW_FACTOR]) * sum(CI_CASES.values()) >= 2000

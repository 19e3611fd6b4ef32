"""The seeds' systems that use the issue-17 capabilities against the outcomes the seed text states
(docs/seed_outcomes.md; issue 17's last bar: TGI within 20 points, ratio-scale values within 2-fold).

Each formulation of examples/seeds/ must load and simulate and be listed in docs/seed_outcomes.md.
The bar itself is asserted only where the model meets it; each miss is a strict xfail naming the
mechanism that falls short. Run as a script to re-print the table's model columns:

    .venv/bin/python tests/test_seed_outcomes.py
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "examples" / "seeds"
DOC = ROOT / "docs" / "seed_outcomes.md"
TGI_POINTS = 20.0       # issue 17: TGI within 20 points
RATIO_FOLD = 2.0        # issue 17: ratio-scale values within 2-fold


@dataclass(frozen=True)
class Row:
    id: str
    metric: str                 # a key of metrics (one file) or of both files' metrics (a ratio)
    reported: float
    file: str
    versus: str | None = None   # the denominator's file: the outcome is a ratio file / versus
    miss: str | None = None     # why the model misses (strict xfail), None when within the bar

    @property
    def scale(self) -> str:
        return "ratio" if self.versus else "points"


ROWS = [
    Row("jia2019_tgi", "tgi_pct", 94.2, "s001_r71_jia2019_blipo_icg_glioma.yaml"),
    Row("wang2018_tgi", "tgi_pct", 100.0, "s001_r45_wang2018_dcus_rbc_b16.yaml",
        miss="no kill: the assumed 808 nm light heats the CuS tumor to ~40 C only, and 5 wt% DOX at the "
             "assumed 6 mg/kg particle dose is too little drug (dose and laser not in the seed)"),
    Row("chen2016_tgi_proxy", "tgi_pct", 100.0, "s002_r35_chen2016_icnp_mcf7.yaml"),
    Row("han2019_tgi_proxy", "tgi_pct", 100.0, "s002_r52_han2019_n3_tinps.yaml",
        miss="the assumed fast 4T1 tumor outgrows one ICG exposure at the assumed dose; the azide/BCN "
             "bioorthogonal targeting is not representable (a plain T-cell membrane)"),
    Row("matbouriahi2018_fold", "tumor_pct_id_24h", 3.0, "s004_matbouriahi2018_clx_liposome.yaml",
        versus="s004_matbouriahi2018_clx_free.yaml",
        miss="free celecoxib has left the model's tumor by 24 h (t1/2 ~2.4 h), so the 24 h ratio is "
             "~1000; the seed gives no time or basis for its 3-fold"),
    Row("wang2020_tgi", "tgi_pct", 61.2, "s004_wang2020_ato_liposome.yaml",
        miss="the model's uncoated liposome is cleared in hours and the assumed 0.3 mg/kg ATO "
             "(6 mg/kg particles at 5 wt%) barely slows the S180 tumor"),
    Row("wang2020_t_half_fold", "blood_t_half_h", 2.0, "s004_wang2020_ato_liposome.yaml",
        versus="s004_wang2020_ato_free.yaml",
        miss="the model's plain (non-PEG) liposome circulates shorter (~3.5 h) than free ATO (~5.3 h): "
             "what doubles this Cu-ATO liposome's circulation is not in the model"),
]
FILES = sorted({r.file for r in ROWS} | {r.versus for r in ROWS if r.versus})


def simulate_all() -> dict[str, dict]:
    import nanocloak

    forms = [nanocloak.load(SEEDS / f) for f in FILES]
    return {f: r.metrics for f, r in zip(FILES, nanocloak.simulate_many(forms))}


def model_value(row: Row, metrics: dict[str, dict]) -> float | None:
    num = metrics[row.file].get(row.metric)
    if row.versus is None:
        return num
    den = metrics[row.versus].get(row.metric)
    return None if num is None or not den else num / den


def error(row: Row, model: float) -> float:
    """Point error for a TGI, fold error (>= 1) for a ratio-scale value."""
    if row.scale == "points":
        return abs(model - row.reported)
    return max(model / row.reported, row.reported / model) if model > 0 else math.inf


def within(row: Row, model: float) -> bool:
    return error(row, model) <= (TGI_POINTS if row.scale == "points" else RATIO_FOLD)


@pytest.fixture(scope="module")
def metrics():
    return simulate_all()


def test_every_seed_formulation_is_in_the_table():
    """No formulation in examples/seeds/ without a row, and every row's files exist."""
    assert sorted(p.name for p in SEEDS.glob("*.yaml")) == FILES


@pytest.mark.parametrize("name", FILES)
def test_formulation_loads_and_simulates(metrics, name):
    m = metrics[name]
    assert m["mass_balance_error"] < 1e-6
    assert "imaging" in m                       # every seed system has a tumor (issue 17: metrics.imaging)
    for row in ROWS:
        if name in (row.file, row.versus):
            assert isinstance(m.get(row.metric), float) and math.isfinite(m[row.metric]), row.metric


@pytest.mark.parametrize("name", FILES)
def test_doc_lists_each_formulation(name):
    assert f"examples/seeds/{name}" in DOC.read_text(encoding="utf-8")


@pytest.mark.parametrize("row", [pytest.param(r, id=r.id, marks=[pytest.mark.xfail(strict=True, reason=r.miss)]
                                              if r.miss else []) for r in ROWS])
def test_within_the_bar(metrics, row):
    model = model_value(row, metrics)
    assert model is not None
    assert within(row, model), f"{row.id}: model {model:.3g} vs reported {row.reported:g}"


def main() -> int:
    metrics = simulate_all()
    print("| row | reported | model | error | within |\n|---|---|---|---|---|")
    for row in ROWS:
        v = model_value(row, metrics)
        unit = "points" if row.scale == "points" else "-fold"
        cell = "n/a" if v is None else f"{error(row, v):.3g} {unit}"
        print(f"| {row.id} | {row.reported:g} | {'n/a' if v is None else f'{v:.3g}'} | {cell} | "
              f"{'yes' if v is not None and within(row, v) else 'no'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

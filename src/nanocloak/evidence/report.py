"""Running the scorecard (in sample and leave-one-study-out) and writing its outputs."""

from __future__ import annotations

import datetime as _dt
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from nanocloak.evidence import calibrate as cal
from nanocloak.evidence import ntd_source, observables, scorecard
from nanocloak.evidence.studies import Study, load_base


@dataclass
class ScoreRun:
    rows: list[scorecard.Scored]            # paper points, in sample (or held out with --loso)
    in_sample: list[scorecard.Scored]
    ntd_rows: list[scorecard.Scored]
    calibration: str
    loso: bool
    evidence_commit: str
    fits: dict[str, dict]                   # held-out study -> its refit's parameter values

    def to_dict(self) -> dict:
        studies = {s.id: s for s in load_base()}
        main = self.rows
        out = scorecard.summary(main, studies)
        out["mode"] = "leave-one-study-out" if self.loso else "in sample"
        out["calibration"] = self.calibration
        out["evidence_commit"] = self.evidence_commit
        out["in_sample"] = {k: v for k, v in scorecard.summary(self.in_sample, studies).items() if k != "by_membrane"}
        out["by_source"] = {"paper": {k: v for k, v in out.items() if k in SUMMARY_KEYS},
                            "ntd": scorecard.summary(self.ntd_rows)}
        out["unused_points"] = unused_points()
        return out


SUMMARY_KEYS = ("points", "points_scored", "studies", "within_2fold_pct", "within_3fold_pct",
                "within_2fold_study_weighted_pct", "gmfe", "temperature_rise_mae_C", "tgi_mae_points",
                "direction_agreement_pct")


def unused_points() -> dict[str, int]:
    """Rows kept in the base but not used, counted by reason."""
    counts: dict[str, int] = {}
    for s in load_base():
        for p in s.points:
            if not p.usable:
                key = p.reason.split(":")[0]
                counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def run(loso: bool = False, calibration: str | None = None,
        on_progress: Callable[[str, int, int], None] | None = None) -> ScoreRun:
    from nanocloak.library import calibrations

    pairs = cal.fit_points()
    studies = sorted({s.id for s, _ in pairs})
    values = observables.model_values(pairs, calibration=calibration)
    in_sample = scorecard.score_points(pairs, values)
    rows, fits = in_sample, {}
    if loso:
        rows, fits = _loso(pairs, studies, calibration, on_progress)
    ntd = ntd_source.load().studies
    ntd_pairs = [(s, p) for s in ntd for p in s.usable_points]
    ntd_rows = scorecard.score_points(ntd_pairs, observables.model_values(ntd_pairs, calibration=calibration),
                                      held_out=True)
    cal_id = calibrations.calibration_id(calibration)
    return ScoreRun(rows, in_sample, ntd_rows, cal_id, loso, cal.evidence_commit(), fits)


def _loso(pairs, studies, calibration, on_progress):
    """Each study predicted, with its random effect 0, from the parameters refitted without it."""
    fits = cal.leave_one_out(pairs, calibration,
                             on_progress=lambda k, n: on_progress and on_progress("sensitivities", k, n))
    rows = []
    trials = cal.TrialCalibrations()
    try:
        for k, sid in enumerate(studies):
            if on_progress:
                on_progress("leave-one-study-out", k, len(studies))
            held = [(s, p) for s, p in pairs if s.id == sid]
            values = observables.model_values(held, calibration=trials.write(fits[sid]))
            rows.extend(scorecard.score_points(held, values, held_out=True))
    finally:
        trials.close()
    return rows, fits


# ---------------------------------------------------------------------------------------------
# outputs
# ---------------------------------------------------------------------------------------------
def rows_frame(rows: list[scorecard.Scored]):
    import pandas as pd

    return pd.DataFrame([{"study": r.study, "source": r.source, "index": r.index, "observable": r.observable,
                          "organ_or_of": r.organ, "arm": r.arm, "t_h": r.t_h, "measured": r.measured, "model": r.model,
                          "fold_error": r.fold_error, "membrane": r.membrane, "held_out": r.held_out} for r in rows])


def predicted_vs_observed(rows: list[scorecard.Scored], title: str):
    from nanocloak.io.figures import pyplot as _plt

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.2, 5.6))
    ratio = [r for r in rows if r.ratio is not None]
    groups = sorted({r.membrane for r in ratio})
    cmap = plt.get_cmap("tab10")
    for i, g in enumerate(groups):
        sub = [r for r in ratio if r.membrane == g]
        ax.scatter([r.measured for r in sub], [r.model for r in sub], s=18, alpha=0.75, color=cmap(i % 10),
                   label=f"{g} ({len(sub)})")
    pairs = [(r.measured, r.model) for r in ratio if r.model is not None]   # every row of ratio: a ratio needs a model value
    if pairs:
        lo = min(min(pair) for pair in pairs) / 2
        hi = max(max(pair) for pair in pairs) * 2
        xs = [lo, hi]
        ax.plot(xs, xs, color="k", lw=1)
        for f, style in ((2, "--"), (3, ":")):
            ax.plot(xs, [x * f for x in xs], color="grey", ls=style, lw=0.8)
            ax.plot(xs, [x / f for x in xs], color="grey", ls=style, lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("measured (the paper's units: %ID, %ID/g, h, fold)")
    ax.set_ylabel("model")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, title="surface", title_fontsize=7)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def study_overlay(study: Study, rows: list[scorecard.Scored]):
    """A study's measured values beside the model's, one bar pair per point."""
    from nanocloak.io.figures import pyplot as _plt

    plt = _plt()
    mine = [r for r in rows if r.study == study.id]
    fig, ax = plt.subplots(figsize=(max(5.0, 0.45 * len(mine) + 2), 4.0))
    xs = range(len(mine))
    ax.bar([x - 0.2 for x in xs], [r.measured for r in mine], width=0.4, label="measured", color="0.35")
    ax.bar([x + 0.2 for x in xs], [r.model or 0.0 for r in mine], width=0.4, label="model", color="tab:blue")
    ax.set_xticks(list(xs))
    ax.set_xticklabels([f"{r.arm}\n{r.observable}\n{r.organ or ''} {'' if r.t_h is None else f'{r.t_h:g} h'}" for r in mine],
                       fontsize=6, rotation=60, ha="right")
    ax.set_yscale("log")
    ax.set_title(f"{study.id}: measured and model", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def write_outputs(result: ScoreRun, out_dir: str | Path, force: bool = False) -> Path:
    from nanocloak.io.figures import png as _png
    from nanocloak.io.output_dir import output_folder

    summary = result.to_dict()
    out = Path(out_dir)
    with output_folder(out, "evidence score", force) as staged:
        (staged / "scorecard.json").write_text(json.dumps(summary, indent=2, default=float), encoding="utf-8")
        rows_frame(result.rows + result.ntd_rows).to_csv(staged / "points.csv", index=False)
        label = "held out (leave one study out)" if result.loso else "in sample"
        (staged / "predicted_vs_observed.png").write_bytes(_png(predicted_vs_observed(
            result.rows, f"paper studies, {label}: model vs measured")))
        (staged / "predicted_vs_observed_ntd.png").write_bytes(_png(predicted_vs_observed(
            result.ntd_rows, "Nano-Tumor Database, tumor %ID: model vs measured")))
        studies = {s.id: s for s in load_base()}
        for sid in sorted({r.study for r in result.rows}):
            (staged / f"studies/{sid}.png").write_bytes(_png(study_overlay(studies[sid], result.rows)))
    return out


def markdown(result: ScoreRun, in_sample: ScoreRun | None = None) -> str:
    """docs/validation.md: the scorecard in words and tables (held out beside in sample)."""
    from nanocloak.io.output_dir import GENERATED_MARK

    s = result.to_dict()
    ins = s["in_sample"]
    lines = [f"<!-- written by nanocloak evidence score --markdown ({GENERATED_MARK}) -->",
             "# How far to trust nanocloak: the evidence scorecard", "",
             f"Generated {_dt.date.today().isoformat()} by `nanocloak evidence score --loso --markdown docs/validation.md` "
             f"under calibration `{s['calibration']}`, evidence base at commit `{s['evidence_commit'][:12]}`. "
             "Every usable point of the evidence base (docs/evidence.md) is simulated as its paper describes it; "
             "held-out values come from a calibration fitted without the study.", "",
             "| measure | held out (LOSO) | in sample |", "|---|---|---|"]
    for key, label in (("points", "points"), ("studies", "studies"), ("within_2fold_pct", "within 2-fold (%)"),
                       ("within_3fold_pct", "within 3-fold (%)"),
                       ("within_2fold_study_weighted_pct", "within 2-fold, study-weighted (%)"),
                       ("direction_agreement_pct", "directions agree (%)"),
                       ("temperature_rise_mae_C", "temperature rise error (C, mean abs)"),
                       ("tgi_mae_points", "TGI error (points, mean abs)")):
        lines.append(f"| {label} | {_fmt(s.get(key))} | {_fmt(ins.get(key))} |")
    for g in ("blood", "organ", "tumor"):
        lines.append(f"| GMFE {g} | {_fmt(s['gmfe'].get(g))} | {_fmt(ins['gmfe'].get(g))} |")
    ntd = s["by_source"]["ntd"]
    lines += ["", "## By surface (held out)", "", "| surface | points | within 2-fold (%) | GMFE |", "|---|---|---|---|"]
    for name, v in s["by_membrane"].items():
        lines.append(f"| {name} | {v['points']} | {_fmt(v['within_2fold_pct'])} | {_fmt(v['gmfe'])} |")
    lines += ["", "## The Nano-Tumor Database (a source of its own)", "",
              f"{ntd['studies']} data sets, {ntd['points']} tumor %ID points, mapped to formulations by the rules of "
              f"`evidence/ntd_source.py` and never fitted: within 2-fold {_fmt(ntd['within_2fold_pct'])}%, within 3-fold "
              f"{_fmt(ntd['within_3fold_pct'])}%, GMFE {_fmt(ntd['gmfe'].get('tumor'))}.", "",
              "## Points kept in the base but not used", ""]
    for reason, n in s["unused_points"].items():
        lines.append(f"- {n} x {reason}")
    lines += ["", "## Worst held-out points", "", "| study | observable | organ/of | arm | t (h) | measured | model | fold error |",
              "|---|---|---|---|---|---|---|---|"]
    worst = sorted([r for r in result.rows if r.fold_error], key=lambda r: -(r.fold_error or 0.0))[:15]
    for r in worst:
        lines.append(f"| {r.study} | {r.observable} | {r.organ or ''} | {r.arm} | {_fmt(r.t_h)} | {_fmt(r.measured)} | "
                     f"{_fmt(r.model)} | {_fmt(r.fold_error)} |")
    return "\n".join(lines) + "\n"


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return "-" if not math.isfinite(v) else f"{v:.3g}"
    return str(v)

"""`nanocloak evidence list|show|score` and `nanocloak calibrate evidence` (docs/evidence.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

evidence_app = typer.Typer(help="The published record as data: studies, their points, the scorecard (docs/evidence.md).",
                           no_args_is_help=True)


def register(app: typer.Typer, calibrate_app: typer.Typer) -> None:
    app.add_typer(evidence_app, name="evidence")
    calibrate_app.command("evidence")(calibrate_evidence)


def _study_record(s) -> dict:
    observables = sorted({p.observable for p in s.points})
    return {"id": s.id, "source": s.source, "citation": s.citation_text, "year": s.data.citation.year,
            "membranes": s.membranes, "observables": observables, "repeat_dose": s.repeat_dose,
            "points": len(s.usable_points), "points_in_file": len(s.points)}


@evidence_app.command("list")
def list_command(json_flag: bool = typer.Option(False, "--json", help="one object per study (papers and NTD data sets)"),
                 fmt: str = typer.Option("table", "--format", help="table, csv or json")):
    """Every study of the evidence base: source, citation, membranes, observables, usable points."""
    from nanocloak.cli.common import chosen_format, emit_table, guard, print_json

    def run():
        import pandas as pd

        from nanocloak.evidence import load_base, ntd_source

        shown = chosen_format(fmt, json_flag)
        papers = [_study_record(s) for s in load_base()]
        ntd = [_study_record(s) for s in ntd_source.load().studies]
        if shown == "json":
            print_json(papers + ntd)
            return
        table = pd.DataFrame(papers)
        table["membranes"] = table["membranes"].map(lambda m: ", ".join(m))
        table["observables"] = table["observables"].map(lambda m: ", ".join(m))
        emit_table(table[["id", "year", "membranes", "points", "points_in_file"]] if shown == "table" else table, shown,
                   f"{len(papers)} paper studies ({sum(p['points'] for p in papers)} usable points); "
                   f"plus {len(ntd)} NTD data sets ({sum(p['points'] for p in ntd)} points)")

    guard(run)


@evidence_app.command("show")
def show_command(study: str = typer.Argument(..., help="a study id (`nanocloak evidence list`)"),
                 out_dir: Optional[Path] = typer.Option(None, "--out", help="write the study's figure and points.csv"),
                 json_flag: bool = typer.Option(False, "--json"),
                 force: bool = typer.Option(False, "--force", help="write into a non-empty folder nanocloak did not write")):
    """A study: its arms (with what was assumed), its points, and the model beside each."""
    from nanocloak.cli.common import emit_table, err, guard, out, print_json

    def run():
        from nanocloak.evidence import ntd_source, observables, scorecard
        from nanocloak.evidence import study as find
        from nanocloak.evidence.report import rows_frame, study_overlay

        s = next((x for x in ntd_source.load().studies if x.id == study), None) if study.startswith("ntd_") else None
        s = s or find(study)
        pairs = [(s, p) for p in s.usable_points]
        rows = scorecard.score_points(pairs, observables.model_values(pairs)) if pairs else []
        if json_flag:
            print_json({**_study_record(s), "arms": {a.id: {"label": a.label, "assumed": a.assumed,
                                                             "stand_ins": s.proxies.get(a.id, []),
                                                             "problem": s.arm_problems.get(a.id)} for a in s.data.arms},
                        "points": rows_frame(rows).to_dict(orient="records"),
                        "unused": [{"index": p.index, "observable": p.observable, "reason": p.reason}
                                   for p in s.points if not p.usable]})
            return
        out.print(f"{s.id}: {s.citation_text}", highlight=False, markup=False)
        for a in s.data.arms:
            note = f"; cannot be simulated: {s.arm_problems[a.id]}" if a.id in s.arm_problems else ""
            stand = f"; stand-ins: {'; '.join(s.proxies[a.id])}" if s.proxies.get(a.id) else ""
            out.print(f"  arm {a.id}: {a.label} (assumed: {', '.join(a.assumed) or 'nothing'}{stand}{note})",
                      highlight=False, markup=False, soft_wrap=True)
        if rows:
            emit_table(rows_frame(rows)[["index", "arm", "observable", "organ_or_of", "t_h", "measured", "model",
                                        "fold_error"]], "table", "points and the model")
        for p in s.points:
            if not p.usable:
                err.print(f"  point {p.index} ({p.observable}) not used: {p.reason}", highlight=False, markup=False)
        if out_dir is not None and rows:
            from nanocloak.io.figures import png as _png
            from nanocloak.io.output_dir import output_folder

            with output_folder(out_dir, "evidence show", force) as staged:
                rows_frame(rows).to_csv(staged / "points.csv", index=False)
                (staged / f"{s.id}.png").write_bytes(_png(study_overlay(s, rows)))
            err.print(f"wrote {out_dir}/ (points.csv, {s.id}.png)")

    guard(run)


@evidence_app.command("score")
def score_command(
    loso: bool = typer.Option(False, "--loso", help="predict each study from a calibration fitted without it"),
    json_flag: bool = typer.Option(False, "--json", help="the scorecard as JSON on stdout"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="write scorecard.json, points.csv and figures"),
    markdown: Optional[Path] = typer.Option(None, "--markdown", help="write the scorecard as Markdown (docs/validation.md)"),
    calibration: Optional[str] = typer.Option(None, "--calibration", help="a calibration id or file (default: the package's)"),
    force: bool = typer.Option(False, "--force", help="write into a non-empty folder (or over a file) nanocloak did not write"),
):
    """Model against every usable evidence point: fold errors, within 2/3-fold, GMFE, directions."""
    from nanocloak.cli.common import err, guard, out, print_json, progress

    def run():
        from nanocloak.evidence import report
        from nanocloak.io.output_dir import GENERATED_MARK, check_file, check_folder, write_generated_file

        check_folder(out_dir, force)
        check_file(markdown, force, "--markdown")
        with progress(2, "scoring") as bar:
            task = bar.add_task("leave-one-study-out fits" if loso else "scoring", total=None)

            def advance(_label, done, total):
                bar.update(task, completed=done, total=total)

            result = report.run(loso=loso, calibration=calibration, on_progress=advance)
        summary = result.to_dict()
        if json_flag:
            print_json(summary)
        else:
            for key in report.SUMMARY_KEYS:
                out.print(f"{key}: {summary.get(key)}", highlight=False, markup=False)
            ntd = {k: summary["by_source"]["ntd"].get(k) for k in ("points", "within_2fold_pct", "gmfe")}
            out.print(f"NTD: {ntd}", highlight=False, markup=False)
        if out_dir is not None:
            report.write_outputs(result, out_dir, force)
            err.print(f"wrote {out_dir}/ (scorecard.json, points.csv, figures)")
        if markdown is not None:
            text = report.markdown(result)
            assert GENERATED_MARK in text
            write_generated_file(markdown, text, force, "--markdown")
            err.print(f"wrote {markdown}")

    guard(run)


def calibrate_evidence(
    out_file: Optional[Path] = typer.Option(None, "--out", help="write the calibration file here (default: stdout); "
                                            "maintainers regenerate the package default with --out src/nanocloak/data/calibration.yaml"),
    force: bool = typer.Option(False, "--force", help="replace a file nanocloak did not write"),
    max_evaluations: int = typer.Option(120, "--max-evaluations",
                                        help="least-squares steps' model evaluations (scipy's max_nfev; "
                                             "finite-difference Jacobians come on top)"),
):
    """Fit the effect parameters to every usable evidence point at once (docs/calibration.md)."""
    from nanocloak.cli.common import err, guard, progress

    def run():
        from nanocloak.evidence import calibrate
        from nanocloak.io.output_dir import check_file, write_generated_file

        check_file(out_file, force, "--out")
        # scipy counts only the steps' evaluations in max_nfev; each Jacobian adds one per parameter
        most = max_evaluations * (len(calibrate.parameters()) + 1)
        with progress(most, "calibrating") as bar:
            task = bar.add_task("fitting to the evidence base (at most)", total=most)
            fit = calibrate.fit(max_nfev=max_evaluations, on_progress=lambda n, cost: bar.update(task, completed=n))
        for key, value in fit.values().items():
            sd = fit.sd()[key]
            err.print(f"{key} = {value:.4g} (sd {sd:.3g} on its fitted scale)", highlight=False, markup=False)
        if fit.at_bounds:
            err.print(f"finding: parameter(s) at a bound: {', '.join(fit.at_bounds)} (docs/calibration.md)",
                      highlight=False, markup=False)
        text = calibrate.calibration_yaml(fit)
        if out_file is None:
            sys.stdout.write(text)
        else:
            write_generated_file(out_file, text, force, "--out")
            err.print(f"wrote {out_file}")

    guard(run)

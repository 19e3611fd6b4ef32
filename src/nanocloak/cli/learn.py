"""`nanocloak learn cv` and `nanocloak learn predict`: the NTD delivery model (docs/learning.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

learn_app = typer.Typer(help="Tumor delivery learned from the Nano-Tumor Database (docs/learning.md).",
                        no_args_is_help=True)
METRIC_HEADERS = (("r2_log10", "R2 log10"), ("r2_linear", "R2 linear"), ("within_2fold", "within 2x"),
                  ("within_3fold", "within 3x"))


def register(app: typer.Typer) -> None:
    app.add_typer(learn_app, name="learn")


@learn_app.command("cv")
def cv_command(
    folds: int = typer.Option(5, "--folds", help="number of folds (identical descriptor rows share a fold)"),
    seed: int = typer.Option(0, "--seed", help="seed of the fold shuffle (and of the random forest)"),
    ntd_dir: Optional[Path] = typer.Option(None, "--ntd", help="Nano-Tumor Database directory (default ../shared/data/ntd)"),
    json_out: bool = typer.Option(False, "--json", help="print the scores as JSON on stdout"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="write scores.csv, predictions.csv and cv.png here"),
    force: bool = typer.Option(False, "--force", help="write into a non-empty folder nanocloak did not write "
                               "(nothing already there is deleted or replaced)"),
):
    """k-fold cross-validation of the delivery model against the median and a random forest (same folds)."""
    from nanocloak.cli.common import err, guard, progress

    def run():
        from nanocloak.io.output_dir import check_folder
        from nanocloak.learn import cross_validate, ntd

        check_folder(out_dir, force)
        datasets, timecourse = ntd.load_datasets(ntd_dir), ntd.load_timecourse(ntd_dir)
        from nanocloak.learn.cross_validation import MODELS

        total = folds * len(MODELS)
        with progress(total, "cross-validating") as bar:
            task = bar.add_task("cross-validating", total=total)
            started = iter(range(total))  # the callback announces each (fold, model) as it starts

            def announce(message: str) -> None:
                bar.update(task, completed=next(started), description=message)

            result = cross_validate(datasets, timecourse, folds=folds, seed=seed, progress=announce)
            bar.update(task, completed=total)
        if out_dir is not None:
            _write_outputs(result, out_dir, force)
            err.print(f"wrote {out_dir}/ (scores.csv, predictions.csv, cv.png)")
        if json_out:
            sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
        else:
            _print_scores(result)

    guard(run)


@learn_app.command("predict")
def predict_command(
    file: Path = typer.Argument(..., help="formulation YAML with a tumor, or a CSV of NTD descriptor columns"),
    ntd_dir: Optional[Path] = typer.Option(None, "--ntd", help="Nano-Tumor Database directory (default ../shared/data/ntd)"),
    json_out: bool = typer.Option(False, "--json", help="print the predictions as JSON on stdout"),
):
    """Predicted DE24, DE168, Demax (%ID) and tumor parameters for a formulation or a descriptor table."""
    from nanocloak.cli.common import guard

    def run():
        import pandas as pd

        from nanocloak.learn import descriptors_of, ntd
        from nanocloak.learn.formulation_descriptors import pretrained
        from nanocloak.spec.formulation import load

        if file.suffix.lower() == ".csv":
            descriptors = pd.read_csv(file)
        else:
            descriptors = descriptors_of(load(file))
        model = pretrained(str(ntd_dir) if ntd_dir else None)
        # only the descriptors are shown (and read): a CSV of full NTD rows must not duplicate columns
        shown = descriptors.reindex(columns=ntd.DESCRIPTORS)
        table = pd.concat([shown, model.predict(shown), model.predict_tumor_parameters(shown)], axis=1)
        if json_out:
            sys.stdout.write(table.to_json(orient="records", indent=2) + "\n")
        else:
            _print_predictions(table)

    guard(run)


# --------------------------------------------------------------------------------------------------
def _print_scores(result) -> None:
    from rich.table import Table

    from nanocloak.cli.common import out

    t = Table(title=f"{result.folds}-fold grouped cross-validation, seed {result.seed}: "
                    f"{result.n_rows} data sets in {result.n_groups} descriptor groups")
    t.add_column("outcome")
    t.add_column("model")
    for _, header in METRIC_HEADERS:
        t.add_column(header, justify="right")
    for (model, outcome), row in result.scores.swaplevel().sort_index(level=0, sort_remaining=False).iterrows():
        t.add_row(outcome, model, *(f"{row[k]:.3f}" for k, _ in METRIC_HEADERS))
    out.print(t)


def _print_predictions(table) -> None:
    from rich.table import Table

    from nanocloak.cli.common import format_cell, out

    t = Table(title="learned tumor delivery (%ID) and tumor parameters (Cheng 2020 definitions)")
    t.add_column("column")
    for i in range(len(table)):
        t.add_column(str(table.index[i]), justify="right")
    for col in table.columns:
        t.add_row(col, *(format_cell(v) for v in table[col]))
    out.print(t)


def _write_outputs(result, out_dir: Path, force: bool = False) -> None:
    from nanocloak.io.output_dir import output_folder

    with output_folder(out_dir, "learn cv", force) as tmp:
        result.table().to_csv(tmp / "scores.csv", index=False)
        result.predictions.to_csv(tmp / "predictions.csv", index=False)
        _figure(result, tmp / "cv.png")


def _figure(result, path: Path) -> None:
    """Observed vs out-of-fold predicted, log-log, one panel per outcome, model and random forest."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from nanocloak.learn.delivery_model import OUTCOMES

    pred = result.predictions
    fig, axes = plt.subplots(1, len(OUTCOMES), figsize=(4.2 * len(OUTCOMES), 4.2))
    for ax, outcome in zip(axes, OUTCOMES):
        obs = pred[f"observed_{outcome}"]
        for model, colour in (("random_forest", "tab:grey"), ("nanocloak", "tab:blue")):
            r2 = result.scores.loc[(model, outcome), "r2_log10"]
            ax.scatter(obs, pred[f"{model}_{outcome}"], s=10, alpha=0.6, color=colour, label=f"{model} (R2 log {r2:.2f})")
        lo, hi = obs.min() / 3, obs.max() * 3
        line = np.array([lo, hi])
        ax.plot(line, line, "k-", lw=0.8)
        ax.fill_between(line, line / 3, line * 3, color="k", alpha=0.07, label="within 3-fold")
        ax.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi), xlabel=f"{outcome} in the NTD (%ID)",
               ylabel=f"{outcome} predicted out of fold (%ID)", title=outcome)
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

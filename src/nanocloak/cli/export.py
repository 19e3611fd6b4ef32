"""`nanocloak export nonmem`: a simulation or lab data as a NONMEM-style dataset (docs/data_conventions.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from nanocloak.cli.common import err, force_option, guard

export_app = typer.Typer(help="Datasets for other tools: NONMEM, Monolix, nlmixr2.", no_args_is_help=True)
FORMULATION_SUFFIXES = (".yaml", ".yml")


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")


def _numbers(text: str | None, option: str) -> list[float] | None:
    from nanocloak.errors import NanocloakError

    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise NanocloakError(f"{option} {text!r}: give hours separated by commas (e.g. 0.25,1,4,24)") from None
    if not values or any(not 0 < v < 1e6 for v in values):
        raise NanocloakError(f"{option} {text!r}: times are hours > 0, separated by commas")
    return values


def _simulated(files: list[Path], dv: str, compartments, times):
    """Simulate the formulations (with `times` added to their output times) and build the dataset."""
    from nanocloak.io.nonmem import from_results
    from nanocloak.simulation.core import simulate_many
    from nanocloak.spec.formulation import from_dict, load

    forms = [load(p) for p in files]
    if times is not None:
        from nanocloak.errors import NanocloakError

        for f in forms:
            late = [t for t in times if t > f.simulate.end_h]
            if late:
                raise NanocloakError(f"--times: {late[0]:g} h is after {f.name}'s simulate.end_h ({f.simulate.end_h:g} h)")
        forms = [from_dict({**f.model_dump(mode="json", exclude_none=True),
                            "simulate": {**f.simulate.model_dump(mode="json", exclude_none=True),
                                         "output_times_h": sorted(set(f.simulate.output_times_h) | set(times))}})
                 for f in forms]
    return from_results(simulate_many(forms), dv, compartments, times)


@export_app.command("nonmem")
def nonmem(
    files: list[Path] = typer.Argument(..., help="formulation YAML(s) to simulate, or one lab data CSV/XLSX, or a "
                                       "SEND study folder (pc, ex, dm, bw)"),
    out_file: Optional[Path] = typer.Option(None, "--out", "-o", help="CSV file to write (default: stdout)"),
    dv: str = typer.Option("pct_id", "--dv", help="DV unit: pct_id (%ID in the whole organ), pct_id_per_g, ug or "
                           "ug_per_g (blood, plasma: per mL)"),
    compartments: Optional[str] = typer.Option(None, "--compartments", help="simulated compartments, comma-separated "
                                               "(default blood,liver,spleen,lung,kidney,heart,brain,tumor)"),
    times: Optional[str] = typer.Option(None, "--times", help="simulation only: observation times in h, comma-separated "
                                        "(default every output time after 0)"),
    formulation: Optional[Path] = typer.Option(None, "--formulation", help="lab data: formulation YAML giving organ "
                                               "masses, blood volume and dose"),
    dose_ug: Optional[float] = typer.Option(None, "--dose-ug", help="lab data CSV: dose per animal in ug"),
    analyte: Optional[str] = typer.Option(None, "--analyte", help="SEND study: the PCTESTCD to export when PC holds several"),
    force: bool = force_option(),
):
    """Write a NONMEM-style dataset (ID, TIME, DV, AMT, EVID, CMT, MDV) from a simulation or lab data."""

    def run():
        from nanocloak.errors import NanocloakError
        from nanocloak.io.nonmem import from_lab_data, render
        from nanocloak.io.output_dir import GENERATED_MARK, check_file, write_generated_file

        check_file(out_file, force, "--out")
        chosen = [c.strip() for c in compartments.split(",") if c.strip()] if compartments else None
        at = _numbers(times, "--times")
        if all(p.suffix.lower() in FORMULATION_SUFFIXES for p in files):
            if formulation is not None or dose_ug is not None or analyte is not None:
                raise NanocloakError("--formulation, --dose-ug and --analyte apply to lab data, not to formulations")
            frame, source = _simulated(files, dv, chosen, at), ", ".join(p.name for p in files)
        else:
            if len(files) != 1:
                raise NanocloakError("give one lab data file (or SEND folder), or formulation YAML files only")
            if chosen is not None or at is not None:
                raise NanocloakError("--compartments and --times apply to simulations; lab data keeps its own samples")
            from nanocloak.lab.send import read_lab_data
            from nanocloak.spec.formulation import load

            lab = read_lab_data(files[0], load(formulation) if formulation is not None else None, dose_ug=dose_ug,
                                analyte=analyte)
            for note in lab.notes:
                err.print(note, highlight=False, markup=False)
            frame, source = from_lab_data(lab, dv), files[0].name
        text = render(frame, source, dv, GENERATED_MARK)
        if out_file is None:
            sys.stdout.write(text)
        else:
            write_generated_file(out_file, text, force, "--out")
            err.print(f"wrote {out_file} ({frame['ID'].nunique()} IDs, {int((frame['EVID'] == 1).sum())} doses, "
                      f"{int((frame['EVID'] == 0).sum())} observations)")

    guard(run)

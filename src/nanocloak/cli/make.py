"""`nanocloak make` (the coating calculator), `qc` (coverage from DLS and zeta), `calibrate tumor`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from nanocloak.cli.apps import app, calibrate_app
from nanocloak.cli.common import err, force_option, guard, json_option, out, print_json
from nanocloak.errors import NanocloakError

CALIBRATE_OUT_HELP = ("write the table to this file (default: stdout); maintainers regenerate the package's default "
                      "by naming it, e.g. --out src/nanocloak/data/tumor.yaml")


def _emit_table(text: str, out_file: Optional[Path], force: bool) -> None:
    """A calibration table on stdout, or into --out (never over a file nanocloak did not write)."""
    if out_file is None:
        sys.stdout.write(text)
        return
    from nanocloak.io.output_dir import write_generated_file

    write_generated_file(out_file, text, force, "--out")
    err.print(f"wrote {out_file}")


@calibrate_app.command("tumor")
def calibrate_tumor(ntd: Optional[Path] = typer.Option(None, help="Nano-Tumor Database directory (default ../shared/data/ntd)"),
                    out_file: Optional[Path] = typer.Option(None, "--out", help=CALIBRATE_OUT_HELP),
                    force: bool = force_option()):
    """Tumor defaults from the NTD per-data-set fits (the table of data/tumor.yaml)."""

    def run():
        from nanocloak.inference.calibrate import tumor_table_yaml

        _emit_table(tumor_table_yaml(ntd), out_file, force)

    guard(run)


@app.command()
def make(file: Path = typer.Argument(..., help="membrane-coated formulation YAML"),
         batch_mg: Optional[float] = typer.Option(None, "--batch-mg", help="core mass of the batch (default: one dose for the subject)"),
         out_dir: Optional[Path] = typer.Option(None, "--out", help="write batch_sheet.html"),
         force: bool = force_option(), json_flag: bool = json_option()):
    """Coating calculator: particles, membrane, donor blood or cells, method, expected QC."""

    def run():
        from nanocloak.lab.fabrication import batch_sheet_html, coating_plan
        from nanocloak.spec.formulation import load

        f = load(file)
        plan = coating_plan(f, batch_mg)
        if out_dir is not None:
            from nanocloak.io.output_dir import output_folder

            with output_folder(out_dir, "make", force) as staged:
                (staged / "batch_sheet.html").write_text(batch_sheet_html(f, plan), encoding="utf-8")
            err.print(f"wrote {out_dir / 'batch_sheet.html'}")
        if json_flag:
            print_json(plan)
            return
        t = Table(title=f"making {f.name}")
        t.add_column("item")
        t.add_column("amount", overflow="fold")
        t.add_row("core", f"{plan.core_mg:.4g} mg {f.core.material} {f.core.diameter_nm:g} nm = {plan.particles:.3g} particles")
        t.add_row("core surface", f"{plan.core_surface_m2 * 1e4:.4g} cm2")
        t.add_row("method", f"{plan.method}: {plan.batches} batch(es), ~{plan.time_h:.2g} h; PDI ~{plan.pdi:.2f}")
        t.add_row("coverage", f"{plan.target_coverage:.0%} mean; {plan.coated_50_fraction:.0%} of particles >= 50% coated")
        t.add_row("membrane area", f"{plan.membrane_area_m2_geometric * 1e4:.4g} cm2 (geometric minimum)")
        for d in plan.donors:
            donor = (f"{d.blood_mL_protocol:.3g} mL blood (geometric minimum {d.blood_mL_geometric:.3g} mL)"
                     if d.blood_mL_protocol is not None
                     else f"{d.cells_protocol:.3g} cells = {d.flasks_protocol:.3g} T-175 flasks" if d.flasks_protocol is not None
                     else f"{d.cells_protocol:.3g} cells/vesicles ({d.source})")
            t.add_row(f"{d.cell} ({d.fraction:.0%})", f"protein {d.protein_mg_protocol:.3g} mg protocol / {d.protein_mg_geometric:.3g} mg "
                      f"geometric; {donor}")
        t.add_row("expected QC", f"{plan.expected_diameter_nm:.0f} nm, {plan.expected_zeta_mV:.0f} mV, protein integrity "
                  f"{plan.protein_integrity:.0%}; markers {', '.join(plan.markers)}")
        out.print(t)

    guard(run)


@app.command()
def qc(file: Path = typer.Argument(..., help="membrane-coated formulation YAML"),
       size_before_nm: float = typer.Option(..., "--size-before-nm", help="DLS diameter of the bare cores"),
       size_after_nm: float = typer.Option(..., "--size-after-nm", help="DLS diameter after coating"),
       zeta_before_mv: float = typer.Option(..., "--zeta-before-mV"),
       zeta_after_mv: float = typer.Option(..., "--zeta-after-mV"),
       pdi_after: Optional[float] = typer.Option(None, "--pdi-after"), json_flag: bool = json_option()):
    """Infer the coating coverage from measured DLS and zeta, with plain warnings."""

    def run():
        from nanocloak.lab.fabrication import infer_coverage
        from nanocloak.spec.formulation import load

        f = load(file)
        if f.surface.kind != "membrane":
            raise NanocloakError("surface.kind: QC inference needs a membrane-coated formulation")
        r = infer_coverage(f, size_before_nm, size_after_nm, zeta_before_mv, zeta_after_mv, pdi_after)
        if json_flag:
            print_json(r)
            return
        fmt = lambda c: "n/a" if c is None else f"{c:.0%}"  # noqa: E731
        out.print(f"coverage: {fmt(r.coverage)} (from zeta {fmt(r.coverage_from_zeta)}, from size {fmt(r.coverage_from_size)})")
        for w in r.warnings:
            out.print(f"warning: {w}", highlight=False)
        if not r.warnings:
            out.print("no warnings: size and charge are consistent with a single, coated population")

    guard(run)


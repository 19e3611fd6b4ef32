"""Plausibility beyond the contract's ranges: the drug loading a core can physically hold (an error),
and atypical but possible inputs (warnings the CLI prints)."""

from __future__ import annotations

from nanocloak.errors import Problem
from nanocloak.library import tables as library


def check_loading(f) -> None:
    """Total drug loading within the physical maximum of the core material (materials.yaml,
    max_loading_wt_pct, sourced): a PLGA or lipid core cannot be 99.999% drug."""
    if f.core.is_free_drug or not f.payloads:
        return
    node = library.entry("materials", f.core.material).get("max_loading_wt_pct")
    if node is None:
        return
    cap = library.sourced(node, f"materials.{f.core.material}.max_loading_wt_pct")
    total = sum(p.loading_wt_pct for p in f.payloads)
    if total > cap.value:
        where = "payloads[0].loading_wt_pct" if len(f.payloads) == 1 else "payloads: the loadings' sum"
        raise ValueError(f"{where}: {total:g} wt% is beyond what a {f.core.material} core can hold (at most "
                         f"{cap.value:g} wt%: {cap.source}); a particle that is essentially drug is "
                         "core.material: drug_nanocrystal")


def plausibility_warnings(f) -> list[Problem]:
    """Atypical but possible inputs, said plainly (the CLI prints them; nothing is refused)."""
    warnings: list[Problem] = []
    if not f.core.is_free_drug:
        typical = library.entry("materials", f.core.material).get("drug_capacity_wt_pct")
        total = sum(p.loading_wt_pct for p in f.payloads)
        if typical is not None and f.payloads and total > 3 * library.value(typical):
            warnings.append(Problem("payloads[0].loading_wt_pct",
                                    f"{total:g} wt% is over 3x the typical {library.value(typical):g} wt% of a "
                                    f"{f.core.material} core; check the number (drug / (drug + core) x 100)"))
    return warnings



"""The formulation's optional blocks, narrowed where the spec's validators guarantee them.

The spec declares surface.membrane, surface.peg, a membrane source's fraction and core.diameter_nm
optional, and its validators (spec/formulation.py) fill or require them: kind: membrane needs a
membrane block, kind: peg gets Peg() by default, a single membrane source gets fraction 1 and every
source of a hybrid needs one, and a core other than a free drug needs its diameter. These functions
hand back the block with its type narrowed, and a clear error where a caller reaches for a block that
the formulation's kind does not have (a formulation built or changed without validation).
"""

from __future__ import annotations

from nanocloak.errors import FormulationError, Problem
from nanocloak.spec.formulation import Core, Formulation, Membrane, MembraneSource, Peg


def membrane_of(f: Formulation) -> Membrane:
    """The membrane block (Surface._check: present exactly when surface.kind is membrane)."""
    m = f.surface.membrane
    if m is None:
        raise FormulationError([Problem("surface.membrane", f"needs kind: membrane with a membrane: block (sources, "
                                                            f"method); this surface is kind: {f.surface.kind}")])
    return m


def peg_of(f: Formulation) -> Peg:
    """The PEG block (Surface._check: filled with Peg() when surface.kind is peg)."""
    p = f.surface.peg
    if p is None:
        raise FormulationError([Problem("surface.peg", f"needs kind: peg; this surface is kind: {f.surface.kind}")])
    return p


def source_fraction(src: MembraneSource) -> float:
    """A membrane source's share (Membrane._check: 1 for a single source, required for each of a hybrid)."""
    if src.fraction is None:
        raise FormulationError([Problem("surface.membrane.sources[].fraction",
                                        f"the {src.cell} source has no fraction (a hybrid's fractions sum to 1)")])
    return src.fraction


def core_diameter_nm(core: Core) -> float:
    """The core's diameter (Core._check: required unless the core is a free drug, which has none)."""
    if core.diameter_nm is None:
        raise FormulationError([Problem("core.diameter_nm", f"required (1..1000 nm) for a particle; "
                                                            f"material {core.material} has none")])
    return core.diameter_nm

"""Brain tumors: the blood-brain barrier on the tumor's vessels, and neutrophil membranes drawn into
a resected (inflamed) brain tumor (docs/brain_metastasis.md).

Intact BBB: the tumor's vessels are brain capillaries, so the tumor's permeability for a particle is
the brain bed's pore-theory transmission (tight junctions, pores < 1 nm; Sarin H 2010, J Angiogenes
Res 2:14; vascular_beds.yaml) in place of the leaky tumor bed's (Hobbs SK et al. 1998, PNAS 95:4607).
Disrupted: the tumor's own bed (the library's calibrated brain-site values). Inflamed (post-surgical):
neutrophil-membrane particles enter by a factor (Xue J et al. 2017, Nat Nanotechnol 12:692:
inflammatory factors after resection guide neutrophils into the brain; membranes.yaml
inflamed_brain_tumor_factor, an assumption), mixed over a hybrid's sources as the other membrane
effects are (by protein fraction x coverage x protein integrity).
"""

from __future__ import annotations

from nanocloak.library import tables as library
from nanocloak.spec.brain import is_brain_tumor
from nanocloak.spec.formulation import Formulation
from nanocloak.surface.blocks import membrane_of, source_fraction
from nanocloak.surface.coating import protein_integrity
from nanocloak.surface.extravasation import transmission


def bbb_intact(f: Formulation) -> bool:
    tumor = f.subject.tumor
    return tumor is not None and is_brain_tumor(tumor) and tumor.bbb == "intact"


def intact_bbb_factor(diameter_nm: float) -> float:
    """PA through brain capillaries / PA through the tumor bed for this particle (pore theory)."""
    leaky = transmission(diameter_nm, "tumor")
    return transmission(diameter_nm, "brain") / leaky if leaky > 0 else 0.0


def inflamed_tumor_factor(f: Formulation, coverage: float) -> float:
    """1 + coverage x integrity x sum over sources of fraction x (factor - 1); 1 unless the tumor is
    a resected brain tumor and the coat has a source with an inflamed_brain_tumor_factor."""
    tumor = f.subject.tumor
    if tumor is None or not tumor.post_surgical or f.surface.kind != "membrane":
        return 1.0
    gain = 0.0
    for s in membrane_of(f).sources:
        node = library.entry("membranes", s.cell).get("inflamed_brain_tumor_factor")
        if isinstance(node, dict):
            gain += source_fraction(s) * (library.value(node) - 1.0)
    return 1.0 + coverage * protein_integrity(f) * gain


def ctc_capture_affinity(f: Formulation, coverage: float) -> float:
    """The coat's CTC affinity (membranes.yaml ctc_capture_affinity, platelet = 1; absent = 0), by
    protein fraction x coverage x protein integrity; 0 for a particle without a membrane."""
    if f.surface.kind != "membrane":
        return 0.0
    total = 0.0
    for s in membrane_of(f).sources:
        node = library.entry("membranes", s.cell).get("ctc_capture_affinity")
        if isinstance(node, dict):
            total += source_fraction(s) * library.value(node)
    return coverage * protein_integrity(f) * total

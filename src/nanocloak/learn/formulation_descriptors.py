"""A formulation's Nano-Tumor Database descriptors, and its learned tumor parameters.

`model.tumor_parameters: learned` asks the delivery model (trained once per process on the NTD)
for the tumor compartment's parameters of this particle in this tumor (Cheng 2020 definitions).
The mapping from formulation fields to NTD descriptors is in `descriptors_of` (docs/learning.md).
The NTD has no membrane descriptor, so a membrane's own tumor effects (homotypic adhesion, tropism;
targeting.py) still multiply the learned KTRESmax and PATC; ligands and size are NTD descriptors
(TS, HD), so their effects are in the learned values already.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from nanocloak.errors import FormulationError, Problem
from nanocloak.learn import ntd
from nanocloak.learn.delivery_model import LEARNED_TUMOR_PARAMETERS, DeliveryModel
from nanocloak.library import tables as library
from nanocloak.spec.formulation import Formulation
from nanocloak.surface import coating, targeting

NTD_TYPE = {"organic": "Organic", "inorganic": "Inorganic", "hybrid": "Hybrid"}
# formulation shapes -> NTD shapes: shells are spheres; nanocages are cubes ("Other"); sheets are plates
NTD_SHAPE = {"sphere": "Spherical", "shell": "Spherical", "rod": "Rod", "sheet": "Plate", "cage": "Other"}
NTD_SITE = {"subcutaneous": "Heterotopic", "orthotopic": "Orthotopic", "brain": "Orthotopic"}
# NTD charge codes (0 negative, 1 positive, 2 neutral); its neutral rows report zeta 0
NEUTRAL_ZETA_MV = 1.0
TUMOR_DENSITY_G_PER_ML = 1.0  # as the simulator's VTC (parameters.py)


def descriptors_of(f: Formulation) -> pd.DataFrame:
    """One row with the 12 NTD descriptor columns for a formulation with a tumor."""
    tumor = f.subject.tumor
    if tumor is None:
        raise FormulationError([Problem("subject.tumor", "tumor delivery can only be learned for a formulation "
                                        "with a tumor (subject.tumor: line, volume_mm3 ...)")])
    line = library.entry("cell_lines", tumor.line)
    model = tumor.model or ("xenograft" if line.get("species") == "human" else "allograft")
    site = NTD_SITE.get(tumor.site)
    tm = f"{model.capitalize()} {site}" if site else "Other"  # lung metastases have no NTD tumor model
    zeta = coating.coated_zeta_mV(f)
    charge = 2.0 if abs(zeta) < NEUTRAL_ZETA_MV else (0.0 if zeta < 0 else 1.0)
    material = library.entry("materials", f.core.material)
    tumor_size_cm3 = tumor.volume_mm3 / 1000.0
    row = {"Type": NTD_TYPE.get(str(material.get("category")), "Other"),
           "TS": "Active" if f.surface.ligands else "Passive",
           "HD": coating.hydrodynamic_diameter_nm(f), "Zeta": abs(zeta), "Charge": charge,
           "Shape": NTD_SHAPE.get(f.core.shape or f.core.default_shape(), "Other"),
           "TM": tm, "CT": tumor.type or line.get("cancer_type", "other"),
           "TSz": tumor_size_cm3, "TW": tumor_size_cm3 * TUMOR_DENSITY_G_PER_ML,
           "Dose": f.dose.mg_per_kg, "BW": f.subject.body_weight_g}
    return pd.DataFrame([row], columns=ntd.DESCRIPTORS)


@lru_cache(maxsize=4)
def pretrained(ntd_dir: str | None = None) -> DeliveryModel:
    """The delivery model trained on the whole Nano-Tumor Database: trained once, then read from
    the user cache (keyed by the data's hash and the nanocloak and scikit-learn versions)."""
    from nanocloak.learn.model_cache import cached_model

    return cached_model(ntd_dir, lambda: DeliveryModel().fit(ntd.load_datasets(ntd_dir),
                                                             ntd.load_timecourse(ntd_dir)).fit_tumor_model())


def tumor_overrides(f: Formulation, model: DeliveryModel | None = None) -> dict[str, float]:
    """`tumor.*` parameter overrides learned for this formulation (VTC stays the formulation's)."""
    if f.subject.species != "mouse":
        raise FormulationError([Problem("model.tumor_parameters", "learned tumor parameters come from mouse studies "
                                        f"(Nano-Tumor Database); subject.species is {f.subject.species}: use 'library'")])
    model = model or pretrained()
    predicted = model.predict_tumor_parameters(descriptors_of(f)).iloc[0]
    learned = {f"tumor.{name}": float(predicted[name]) for name in LEARNED_TUMOR_PARAMETERS}
    coverage = coating.coverage_fraction(f)
    learned["tumor.KTRESmax"] *= targeting.membrane_tumor_uptake_factor(f, coverage)
    learned["tumor.PATC"] *= targeting.membrane_tumor_permeability_factor(f, coverage)
    return learned

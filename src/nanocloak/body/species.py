"""Species physiology: organ volumes, blood flows, vascular volumes (Brown et al. 1997; Lin 2016).

Numbers are in data/species.yaml; this module turns them into litres and litres per hour for a
body weight, derives the remainder compartments ("rest" volume and flow) and checks that the
blood budget closes (organ vascular blood + central pools = total blood volume).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from nanocloak.errors import NanocloakError
from nanocloak.library import tables as library

#: organs tabulated per species (tumor comes from tumor.yaml, rest is the remainder)
TABULATED_ORGANS = ("lung", "heart", "liver", "spleen", "kidney", "brain", "muscle")
MIN_CENTRAL_BLOOD_FRACTION = 0.2


@dataclass(frozen=True)
class OrganPhysiology:
    name: str
    volume_L: float
    flow_L_per_h: float        # arterial inflow (lung: cardiac output)
    vascular_fraction: float
    partition: float
    pac: float                 # PA as fraction of organ blood flow (Lin 2016), for the reference particle
    pc_kmax_per_h: float
    pc_t50_h: float
    pc_hill: float
    pc_release_per_h: float
    vascular_bed: str

    @property
    def vascular_L(self) -> float:
        return self.volume_L * self.vascular_fraction

    @property
    def tissue_L(self) -> float:
        return self.volume_L - self.vascular_L


@dataclass(frozen=True)
class Physiology:
    species: str
    body_weight_kg: float
    cardiac_output_L_per_h: float
    blood_volume_L: float
    hematocrit: float
    arterial_fraction: float
    gfr_L_per_h: float
    bile_clearance_L_per_h: float
    urine_clearance_L_per_h: float
    organs: dict[str, OrganPhysiology]

    @property
    def central_blood_L(self) -> float:
        return self.blood_volume_L - sum(o.vascular_L for o in self.organs.values())


def _v(node, where):
    return library.value(node, where)


def species_entry(species: str) -> dict:
    return library.entry("species", species, "species")


@lru_cache(maxsize=None)
def _organ_constants(species: str, name: str) -> tuple:
    node = species_entry(species)["organs"][name]
    w = f"species.{species}.organs.{name}"
    keys = ("vascular_fraction", "partition_coefficient", "permeability_coefficient", "pc_uptake_max_per_h",
            "pc_uptake_t50_h", "pc_uptake_hill", "pc_release_per_h")
    return tuple(_v(node[k], w) for k in keys) + (str(node.get("vascular_bed", "continuous")),)


def organ_physiology(species: str, name: str, volume_L: float, flow_L_per_h: float) -> OrganPhysiology:
    vf, part, pac, kmax, t50, hill, rel, bed = _organ_constants(species, name)
    return OrganPhysiology(name, volume_L, flow_L_per_h, vf, part, pac, kmax, t50, hill, rel, bed)


#: derived, so never overridden directly: the lung takes the whole cardiac output, 'rest' the remainder
DERIVED_PHYSIOLOGY = ("lung.blood_flow_L_per_h", "rest.volume_L", "rest.blood_flow_L_per_h")


def build(species: str, body_weight_g: float, tumor_volume_L: float = 0.0, tumor_flow_fraction: float = 0.0,
          overrides: dict[str, float] | None = None) -> Physiology:
    """Physiology of one animal; a tumor takes its volume and flow from the 'rest' remainder.

    `overrides` (model.overrides names: cardiac_output_L_per_h, blood_volume_L, ORGAN.volume_L,
    ORGAN.blood_flow_L_per_h) replace tabulated values *before* the remainders are derived, so the
    flows still add up to the cardiac output and the volumes to the body weight (mass balance)."""
    ov = overrides or {}
    sp = species_entry(species)
    w = f"species.{species}"
    bw = body_weight_g / 1000.0
    qc = ov.get("cardiac_output_L_per_h", _v(sp["cardiac_output_L_per_h_per_kg075"], w) * bw**0.75)
    blood = ov.get("blood_volume_L", _v(sp["blood_volume_fraction"], w) * bw)
    organs: dict[str, OrganPhysiology] = {}
    used_volume, used_flow = 0.0, 0.0
    for name in TABULATED_ORGANS:
        node = sp["organs"][name]
        volume = ov.get(f"{name}.volume_L", _v(node["volume_fraction"], f"{w}.organs.{name}") * bw)
        flow = qc if name == "lung" else ov.get(f"{name}.blood_flow_L_per_h",
                                                _v(node["blood_flow_fraction"], f"{w}.organs.{name}") * qc)
        organs[name] = organ_physiology(species, name, volume, flow)
        used_volume += volume
        used_flow += 0.0 if name == "lung" else flow
    rest_volume = bw - used_volume - blood - tumor_volume_L
    rest_flow = qc - used_flow - tumor_flow_fraction * qc
    if rest_volume <= 0 or rest_flow <= 0:
        raise NanocloakError(f"the tumor (or overridden organ volumes/flows) leave no body for 'rest' in this {species} "
                             f"(rest volume {rest_volume * 1000:.3g} mL, flow {rest_flow:.3g} L/h)")
    organs["rest"] = organ_physiology(species, "rest", rest_volume, rest_flow)
    phys = Physiology(
        species=species, body_weight_kg=bw, cardiac_output_L_per_h=qc, blood_volume_L=blood,
        hematocrit=_v(sp["hematocrit_fraction"], w),
        arterial_fraction=_v(sp["arterial_fraction_of_central_blood"], w),
        gfr_L_per_h=_v(sp["glomerular_filtration_rate_mL_per_min_per_kg"], w) * bw * 60.0 / 1000.0,
        bile_clearance_L_per_h=_v(sp["bile_clearance_L_per_h_per_kg075"], w) * bw**0.75,
        urine_clearance_L_per_h=_v(sp["urine_clearance_L_per_h_per_kg075"], w) * bw**0.75,
        organs=organs,
    )
    return phys


def check_blood_budget(phys: Physiology, tumor_vascular_L: float = 0.0) -> None:
    central = phys.central_blood_L - tumor_vascular_L
    if central < MIN_CENTRAL_BLOOD_FRACTION * phys.blood_volume_L:
        raise NanocloakError(
            f"{phys.species}: organ vascular blood leaves only {central / phys.blood_volume_L:.0%} of the blood volume "
            f"for the central pools (needs >= {MIN_CENTRAL_BLOOD_FRACTION:.0%}); check vascular_fraction values")

"""The formulation file (docs: ../shared/docs/FORMULATION_SPEC.md), parsed and validated with pydantic.

Units live in field names. A value may also be written as a string with an explicit unit
("0.02 kg" for body_weight_g): pint converts it at this edge, and a unit of the wrong dimension is
rejected. Library keys and enumerated values are case-insensitive.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from nanocloak.errors import FormulationError, Problem, did_you_mean
from nanocloak.library import release_laws as release_models
from nanocloak.library import tables as library
from nanocloak.spec.brain import Bbb, Metastases, check_brain
from nanocloak.spec.dose import Dose, DoseStep, dose_per_area_to_per_kg  # noqa: F401 (DoseStep: the spec's public API)
from nanocloak.spec.fields import (
    Cell,
    Density,
    Donor,
    Grams,
    Host,
    Hours,
    KiloDalton,
    LigandName,
    Megahertz,
    Method,
    MilliVolts,
    Minutes,
    Mm3,
    Nm,
    Num,
    Shape,
    Site,
    Species,
    Storage,
    SurfaceKind,
    TriggerKind,
    TumorModel,
    WattPerCm2,
    finite,
    library_key,
    lower,
)
from nanocloak.spec.magnets import Magnet, check_magnetic_core, check_magnets
from nanocloak.spec.plausibility import check_loading, plausibility_warnings  # noqa: F401 (the spec's public API)
from nanocloak.spec.problems import problems_from

FORMAT_VERSION = 1
FRACTION_TOLERANCE = 1e-6


#: largest tumor per species (mm3): a mouse or rat tumor beyond these exceeds humane end points many
#: times over; a patient's tumor may be far larger (assumption: ~10% of a mouse's 20 g, ~20% of a
#: rat's; a human tumor of 2 L)
TUMOR_VOLUME_MAX_MM3 = {"mouse": 5000.0, "rat": 50_000.0, "human": 2_000_000.0}
#: plausible body weights per species (g): outside these a typo is far likelier than an animal
BODY_WEIGHT_RANGE_G = {"mouse": (10.0, 60.0), "rat": (80.0, 900.0), "human": (3_000.0, 250_000.0)}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, validate_default=True)


# ---------------------------------------------------------------------------------------------
# blocks
# ---------------------------------------------------------------------------------------------
class Core(_Strict):
    material: str
    diameter_nm: Nm | None = Field(default=None, ge=1, le=1000)
    shape: Shape | None = None
    aspect_ratio: Num | None = Field(default=None, ge=1, le=20)
    zeta_mV: MilliVolts | None = Field(default=None, ge=-100, le=100)
    density_g_per_cm3: Density | None = Field(default=None, gt=0, le=25)
    # the magnetic content of a magnetic core (treatment.magnets; spec/magnets.py, docs/magnetic.md)
    magnetic_fraction: Num | None = Field(default=None, gt=0, le=1)
    magnetic_crystal_nm: Nm | None = Field(default=None, ge=1, le=1000)

    _material = field_validator("material", mode="before")(library_key("materials", "core material"))

    @property
    def is_free_drug(self) -> bool:
        return self.material == "free"

    @model_validator(mode="after")
    def _check(self) -> "Core":
        if self.is_free_drug:
            given = [k for k in ("diameter_nm", "shape", "aspect_ratio", "zeta_mV", "density_g_per_cm3",
                                 "magnetic_fraction", "magnetic_crystal_nm") if getattr(self, k) is not None]
            if given:
                raise ValueError(f"a free drug (material: free) has no particle: remove {', '.join(given)}")
            return self
        if self.diameter_nm is None:
            raise ValueError("diameter_nm is required (1..1000 nm) unless material is free")
        if self.aspect_ratio is not None and (self.shape or self.default_shape()) != "rod":
            raise ValueError("aspect_ratio is only allowed for rods (shape: rod)")
        check_magnetic_core(self)
        return self

    def default_shape(self) -> str:
        return str(library.entry("materials", self.material).get("default_shape", "sphere"))


class Peg(_Strict):
    mw_kDa: KiloDalton = Field(default=2.0, ge=0.5, le=40)


class MembraneSource(_Strict):
    cell: Cell
    fraction: Num | None = Field(default=None, gt=0, le=1)
    line: str | None = None
    donor: Donor = "syngeneic"

    _line = field_validator("line", mode="before")(
        lambda v: v if v is None else library_key("cell_lines", "cell line")(v))

    @model_validator(mode="after")
    def _check(self) -> "MembraneSource":
        if self.cell in ("cancer", "cancer_stem") and not self.line:
            raise ValueError(f"a {self.cell} membrane needs its source cell line (line: e.g. 4T1, B16F10, MCF-7)")
        return self


class Membrane(_Strict):
    sources: list[MembraneSource] = Field(min_length=1)
    method: Method = "coextrusion"
    membrane_to_core_mass_ratio: Num | None = Field(default=None, gt=0, le=100)
    # added to the spec (issue 5): how long and how the coated batch was kept before use
    storage: Storage = "fresh"
    storage_days: Num = Field(default=0.0, ge=0, le=3650)

    @model_validator(mode="after")
    def _check(self) -> "Membrane":
        if len(self.sources) == 1:
            if self.sources[0].fraction is None:
                self.sources[0].fraction = 1.0
            elif abs(self.sources[0].fraction - 1.0) > FRACTION_TOLERANCE:
                raise ValueError("sources[0].fraction: a single membrane source has fraction 1 (or omit it)")
            return self
        missing = [i for i, s in enumerate(self.sources) if s.fraction is None]
        if missing:
            raise ValueError(f"sources[{missing[0]}].fraction is required for a hybrid membrane (fractions sum to 1)")
        total = sum(s.fraction for s in self.sources if s.fraction is not None)   # none missing: checked above
        if abs(total - 1.0) > FRACTION_TOLERANCE:
            raise ValueError(f"hybrid membrane fractions must sum to 1 (within 1e-6); they sum to {total:.6g}")
        return self


class Ligand(_Strict):
    name: LigandName
    per_particle: Num = Field(gt=0, le=1e6)


class Surface(_Strict):
    kind: SurfaceKind = "none"
    peg: Peg | None = None
    membrane: Membrane | None = None
    ligands: list[Ligand] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> "Surface":
        if self.kind != "peg" and self.peg is not None:
            raise ValueError("peg: only allowed with kind: peg")
        if self.kind != "membrane" and self.membrane is not None:
            raise ValueError("membrane: only allowed with kind: membrane")
        if self.kind == "membrane" and self.membrane is None:
            raise ValueError("kind: membrane needs a membrane: block (sources, method)")
        if self.kind == "peg" and self.peg is None:
            self.peg = Peg()
        names = [lig.name for lig in self.ligands]
        if len(set(names)) != len(names):
            raise ValueError("ligands: each ligand may be listed once")
        return self


class Trigger(_Strict):
    kind: TriggerKind
    threshold: Num | None = None
    factor: Num = Field(gt=0, le=1e4)

    @model_validator(mode="after")
    def _check(self) -> "Trigger":
        needs = {"ph": (0.0, 14.0), "hyperthermia": (20.0, 100.0), "ros": (0.0, 1e3), "gsh": (0.0, 1e3), "enzyme": (0.0, 1e3)}
        if self.kind in needs:
            lo, hi = needs[self.kind]
            if self.threshold is None:
                unit = {"ph": "pH units", "hyperthermia": "degrees C"}.get(self.kind, "x normal tissue level")
                raise ValueError(f"a {self.kind} trigger needs a threshold ({unit})")
            if not lo <= self.threshold <= hi:
                raise ValueError(f"threshold {self.threshold} out of range for {self.kind} ({lo}..{hi})")
        elif self.threshold is not None:
            raise ValueError(f"a {self.kind} trigger takes no threshold (active while applied)")
        return self


class Release(_Strict):
    model: str
    params: dict[str, Num] = Field(default_factory=dict)
    triggers: list[Trigger] = Field(default_factory=list)

    @field_validator("model", mode="before")
    @classmethod
    def _model(cls, v: Any) -> Any:
        try:
            return release_models.get(v).name
        except KeyError as exc:
            raise ValueError(exc.args[0]) from None

    @model_validator(mode="after")
    def _check(self) -> "Release":
        spec = release_models.get(self.model)
        wanted = spec.parameter_names
        unknown = [k for k in self.params if k not in wanted]
        if unknown:
            raise ValueError(f"params: {unknown[0]!r} is not a parameter of {self.model}{did_you_mean(unknown[0], wanted)}; "
                             f"it takes {', '.join(f'{p.name} ({p.unit})' for p in spec.parameters)}")
        missing = [k for k in wanted if k not in self.params]
        if missing:
            raise ValueError(f"params: {self.model} needs {', '.join(missing)}")
        for p in spec.parameters:
            v = self.params[p.name]
            if not (p.lower <= v <= p.upper) or not math.isfinite(v):
                raise ValueError(f"params.{p.name} = {v} out of range ({p.lower}..{p.upper} {p.unit})")
        return self


class Payload(_Strict):
    drug: str
    loading_wt_pct: Num = Field(gt=0, le=100)   # 100 only for a free drug (no carrier)
    release: Release | None = None

    _drug = field_validator("drug", mode="before")(library_key("drugs", "drug"))


class TumorSpec(_Strict):
    line: str
    type: str | None = None
    site: Site = "subcutaneous"
    model: TumorModel | None = None
    volume_mm3: Mm3 = Field(default=100.0, gt=1, le=2_000_000)
    #: brain tumors only (spec/brain.py): the blood-brain barrier's state, a resected (inflamed) tumor
    bbb: Bbb | None = None
    post_surgical: bool | None = None
    metastases: Metastases | None = None

    _line = field_validator("line", mode="before")(library_key("cell_lines", "tumor cell line"))
    _type = field_validator("type", mode="before")(
        lambda v: v if v is None else library_key("cancer_types", "cancer type")(v))


class Subject(_Strict):
    species: Species = "mouse"
    body_weight_g: Grams | None = Field(default=None, gt=0)
    host: Host | None = None
    tumor: TumorSpec | None = None

    @field_validator("body_weight_g")
    @classmethod
    def _weight(cls, v: float | None, info) -> float | None:
        species = info.data.get("species")
        if v is not None and species in BODY_WEIGHT_RANGE_G:
            lo, hi = BODY_WEIGHT_RANGE_G[species]
            if not lo <= v <= hi:
                raise ValueError(f"{v:g} g is implausible for a {species} ({lo:g}..{hi:g} g)")
        return v

    @model_validator(mode="after")
    def _check(self) -> "Subject":
        if self.body_weight_g is None:
            self.body_weight_g = library.value(library.entry("species", self.species)["body_weight_g"])
        tumor = self.tumor
        if tumor is not None:
            cap = TUMOR_VOLUME_MAX_MM3.get(self.species)
            if cap is not None and tumor.volume_mm3 > cap:
                raise ValueError(f"tumor.volume_mm3: {tumor.volume_mm3:g} mm3 is implausible in a {self.species} "
                                 f"(at most {cap:g} mm3)")
            line = library.entry("cell_lines", tumor.line)
            line_species = str(line.get("species", "")).lower()
            line_type = lower(line.get("cancer_type", "other"))
            if tumor.type is None:
                tumor.type = line_type
            elif line_type not in (tumor.type, "other") and tumor.type != "other":
                raise ValueError(f"tumor.type: {tumor.type!r} disagrees with tumor.line {tumor.line}, a {line_type} "
                                 f"cancer line; leave type out to take the line's ({line_type})")
            if tumor.model is None:
                tumor.model = "allograft" if line_species == self.species else "xenograft"
            if self.host is None:
                self.host = "nude" if tumor.model == "xenograft" else "immunocompetent"
            if tumor.model == "xenograft" and self.host == "immunocompetent" and self.species != "human":
                raise ValueError(f"tumor: a xenograft ({tumor.line}, a {line_species} line) is rejected by an "
                                 "immunocompetent host; use host: nude or scid")
            if tumor.model == "allograft" and line_species and line_species != self.species:
                raise ValueError(f"tumor.model: {tumor.line} is a {line_species} line, so in a {self.species} it is a xenograft")
            check_brain(tumor)
        if self.host is None:
            self.host = "immunocompetent"
        return self


class Laser(_Strict):
    at_h: Hours = Field(ge=0)
    wavelength_nm: Nm = Field(ge=400, le=1400)
    power_W_per_cm2: WattPerCm2 = Field(gt=0, le=10)
    duration_min: Minutes = Field(gt=0, le=120)


class Ultrasound(_Strict):
    """Ultrasound applied to the tumor (drives `ultrasound` release triggers; added to the spec)."""

    at_h: Hours = Field(ge=0)
    duration_min: Minutes = Field(gt=0, le=240)
    intensity_W_per_cm2: WattPerCm2 = Field(default=1.0, gt=0, le=10)
    #: acoustic frequency: sets the tissue's absorption (sonodynamic dose, model/therapy/sonodynamic.py)
    frequency_MHz: Megahertz = Field(default=1.0, gt=0.02, le=10)


class Treatment(_Strict):
    lasers: list[Laser] = Field(default_factory=list)
    ultrasound: list[Ultrasound] = Field(default_factory=list)
    #: magnetic targeting over the tumor (spec/magnets.py, docs/magnetic.md)
    magnets: list[Magnet] = Field(default_factory=list)


class ModelOptions(_Strict):
    overrides: dict[str, Num] = Field(default_factory=dict)
    # tumor compartment parameters (tumor.QTC, PATC, KTRES*...): "library" = the NTD-calibrated
    # defaults per tumor site (docs/calibration.md); "learned" = predicted for this particle and
    # tumor by the Nano-Tumor Database model (nanocloak.learn, docs/learning.md). Overrides win.
    tumor_parameters: Literal["library", "learned"] = "library"
    # the calibration the model runs under: an id of the package's calibrations or a calibration
    # file's path (calibration.py); None = the package default. Results name the one used.
    calibration: str | None = None

    @field_validator("calibration")
    @classmethod
    def _known_calibration(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from nanocloak.library import calibrations as cal

        try:
            cal.table(v)
        except cal.CalibrationError as exc:
            raise ValueError(str(exc).removeprefix("model.calibration: ")) from None
        return v


class SimulateOptions(_Strict):
    end_h: Hours = Field(default=168.0, gt=0, le=24 * 365)
    output_times_h: list[Hours] = Field(default_factory=list, max_length=2000)


class Formulation(_Strict):
    """One nanomedicine experiment: particle, coating, drug, dose, animal, treatment, simulation."""

    nanocloak: Annotated[Literal[1], BeforeValidator(finite)]
    name: str = Field(min_length=1, max_length=200)
    core: Core
    surface: Surface = Field(default_factory=Surface)
    payloads: list[Payload] = Field(default_factory=list)
    dose: Dose
    subject: Subject = Field(default_factory=Subject)
    treatment: Treatment = Field(default_factory=Treatment)
    model: ModelOptions = Field(default_factory=ModelOptions)
    simulate: SimulateOptions = Field(default_factory=SimulateOptions)

    @model_validator(mode="before")
    @classmethod
    def _dose_per_area(cls, data: Any) -> Any:
        """dose.mg_per_m2 to dose.mg_per_kg with the subject's species (spec/dose.py, issue 13)."""
        return dose_per_area_to_per_kg(data)

    @model_validator(mode="after")
    def _check(self) -> "Formulation":
        end = self.simulate.end_h
        if self.core.is_free_drug:
            if self.surface.kind != "none" or self.surface.ligands:
                raise ValueError("surface: a free drug (core.material: free) has no surface")
            if not self.payloads:
                raise ValueError("payloads: a free drug formulation needs its drug in payloads")
            if self.dose.basis != "drug":
                raise ValueError("dose.basis: a free drug is dosed by its drug mass (basis: drug)")
        if self.dose.basis == "drug" and not self.payloads:
            raise ValueError("dose.basis: drug needs a payload (the dose counts the first payload's drug)")
        check_route(self)
        check_magnets(self)
        late = [t for t in self.dose.times_h if t > end]
        if late:
            where = "dose.schedule: a dose at" if self.dose.schedule else "dose.times_h:"
            raise ValueError(f"{where} {late[0]:g} h is after simulate.end_h ({end:g} h)")
        bad = [t for t in self.simulate.output_times_h if not 0 <= t <= end]
        if bad:
            raise ValueError(f"simulate.output_times_h: {bad[0]:g} h is outside 0..end_h ({end:g} h)")
        late_laser = [las.at_h for las in self.treatment.lasers if las.at_h > end]
        if late_laser:
            raise ValueError(f"treatment.lasers: a laser at {late_laser[0]:g} h is after simulate.end_h ({end:g} h)")
        if sum(p.loading_wt_pct for p in self.payloads) >= 100 and not self.core.is_free_drug:
            raise ValueError("payloads: loading_wt_pct (drug / (drug + core) x 100) must stay below 100 in total "
                             "for a particle; 100 means a free drug (core.material: free)")
        check_loading(self)
        return self

    # convenience ------------------------------------------------------------------------------
    @property
    def has_tumor(self) -> bool:
        return self.subject.tumor is not None

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json", exclude_none=True), sort_keys=False)

    def _repr_html_(self) -> str:
        """The design as a small table in a notebook (spec/display.py)."""
        from nanocloak.spec.display import formulation_html

        return formulation_html(self)


def check_route(f: "Formulation") -> None:
    """dose.route against the rest of the design (docs/routes.md)."""
    route = f.dose.route
    if route == "iv":
        return
    if route == "intratumoral" and f.subject.tumor is None:
        raise ValueError("dose.route: intratumoral needs a tumor (subject.tumor); without one use iv, "
                         "intraperitoneal or subcutaneous")
    if f.core.is_free_drug:
        raise ValueError(f"dose.route: {route} is modelled for particles only; a free drug (core.material: free) "
                         "is given iv")
    if f.payloads:
        raise ValueError(f"dose.route: {route} with payloads is not modelled yet (the drug model starts the particles "
                         "in the blood; release at the injection site is not sourced); use iv, or simulate the "
                         "particle without payloads")


# ---------------------------------------------------------------------------------------------
# loading with clear errors
# ---------------------------------------------------------------------------------------------


def from_dict(data: Any, source: str | None = None) -> Formulation:
    """Validate a mapping into a Formulation, raising FormulationError with readable problems."""
    if not isinstance(data, dict):
        raise FormulationError([Problem("", "the file must hold a YAML mapping (nanocloak: 1, name: ..., core: ...)")], source)
    try:
        return Formulation.model_validate(data)
    except ValidationError as exc:
        raise FormulationError(problems_from(exc, Formulation), source) from None
    except RecursionError:
        raise FormulationError([Problem("", "nesting too deep")], source) from None


def load(path: str | Path) -> Formulation:
    """Read and validate a formulation YAML file."""
    from nanocloak.library import safe_yaml

    p = Path(path)
    try:
        data = safe_yaml.load_file(p)
    except safe_yaml.YamlError as exc:
        raise FormulationError([Problem("", str(exc).removeprefix(f"{p}: "))], str(p)) from None
    return from_dict(data, str(p))

"""The formulation's dose block: equal doses (`times_h`, `mg_per_kg`) or an unequal schedule
(`schedule: [{at_h, mg_per_kg}]`, added to the spec, issue 14), and the route (`route`: iv,
intratumoral, intraperitoneal, subcutaneous; issue 17, docs/routes.md). A dose may be written per
body surface area (`mg_per_m2`, issue 13): the formulation converts it to mg/kg with the subject's
species' Km factor (data/dose_conversion.yaml). docs/spec.md."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from nanocloak.library import tables as library
from nanocloak.spec.fields import Hours, Lower, MgPerKg, with_unit

#: a dose per body surface area (mg/m2); accepts a unit ("25 mg/m**2")
MgPerM2 = Annotated[float, with_unit("mg/m**2")]
#: the largest dose in mg/kg the spec allows (dose.mg_per_kg)
MAX_MG_PER_KG = 1000.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, validate_default=True)


class DoseStep(_Strict):
    """One dose of an unequal schedule (dose.schedule): its time and its amount."""

    at_h: Hours = Field(ge=0)
    mg_per_kg: MgPerKg = Field(gt=0, le=1000)


#: two dose times closer than this (h) are the same dose (a schedule's at_h against times_h)
DOSE_TIME_TOLERANCE_H = 1e-9


def _parsed(kind: Any, value: Any) -> float | None:
    """A raw schedule number as its field would read it (units allowed), or None if it is bad
    (the field's own validation then reports it)."""
    from pydantic import TypeAdapter

    try:
        return float(TypeAdapter(kind).validate_python(value))
    except (ValidationError, TypeError, ValueError):
        return None


class Dose(_Strict):
    """The dose. `times_h` with one `mg_per_kg` gives equal doses; `schedule` ([{at_h, mg_per_kg}],
    added to the spec) gives unequal ones: `times_h` and `mg_per_kg` are then derived from it (the
    schedule's times, the FIRST dose's amount, the one %ID refers to); given beside it they must
    agree with it (docs/spec.md)."""

    basis: Annotated[Literal["particle", "drug"], Lower] = "particle"
    mg_per_kg: MgPerKg = Field(gt=0, le=MAX_MG_PER_KG)
    #: the dose as written per body surface area (added to the spec, issue 13); mg_per_kg is then
    #: derived from it (km_to_mg_per_kg). None: the dose was written in mg/kg
    mg_per_m2: MgPerM2 | None = Field(default=None, gt=0)
    times_h: list[Hours] = Field(default_factory=lambda: [0.0], min_length=1, max_length=100)
    #: iv (the dose mixed in the blood), intratumoral (in the tumor's interstitium), intraperitoneal and
    #: subcutaneous (a depot absorbed into the blood): docs/routes.md
    route: Annotated[Literal["iv", "intratumoral", "intraperitoneal", "subcutaneous"], Lower] = "iv"
    schedule: list[DoseStep] | None = Field(default=None, min_length=1, max_length=100)

    @model_validator(mode="before")
    @classmethod
    def _from_schedule(cls, data: Any) -> Any:
        """Fill times_h and mg_per_kg from a schedule when they are not given."""
        steps = data.get("schedule") if isinstance(data, dict) else None
        if not isinstance(steps, list):
            if isinstance(data, dict) and data.get("mg_per_kg") is None and data.get("mg_per_m2") is None:
                raise ValueError("give the dose's amount: mg_per_kg (mg per kg body weight) or mg_per_m2 (mg per m2 "
                                 "body surface area), one of them")
            return data
        at = [_parsed(Hours, s.get("at_h")) if isinstance(s, dict) else None for s in steps]
        amounts = [_parsed(MgPerKg, s.get("mg_per_kg")) if isinstance(s, dict) else None for s in steps]
        usable = (bool(steps) and all(a is not None and 0 <= a and math.isfinite(a) for a in at) and len(set(at)) == len(at)
                  and all(m is not None and 0 < m <= 1000 for m in amounts))
        data = dict(data)
        if not usable:     # the schedule's own errors name the problem: no second report from derived fields
            data.setdefault("times_h", [0.0])
            data.setdefault("mg_per_kg", 1.0)
            return data
        times = [float(a) for a in at if a is not None]            # all present: `usable` above
        data.setdefault("times_h", sorted(times))
        data.setdefault("mg_per_kg", amounts[times.index(min(times))])
        return data

    @model_validator(mode="before")
    @classmethod
    def _area_needs_species(cls, data: Any) -> Any:
        """A dose per m2 alone (outside a formulation) has no species to convert it with."""
        if isinstance(data, dict) and data.get("mg_per_m2") is not None and data.get("mg_per_kg") is None:
            raise ValueError("mg_per_m2 is converted to mg/kg with the subject's species: give it in a formulation")
        return data

    @field_validator("times_h")
    @classmethod
    def _times(cls, v: list[float]) -> list[float]:
        if any(t < 0 or not math.isfinite(t) for t in v):
            raise ValueError("dose times must be >= 0 h")
        if len(set(v)) != len(v):
            raise ValueError("dose times must be distinct")
        return sorted(v)

    @field_validator("schedule")
    @classmethod
    def _steps(cls, v: list[DoseStep] | None) -> list[DoseStep] | None:
        if v is None:
            return v
        at = sorted(s.at_h for s in v)
        if any(b - a <= DOSE_TIME_TOLERANCE_H for a, b in zip(at, at[1:])):
            raise ValueError("each dose needs its own at_h (two doses at the same time are one dose)")
        return sorted(v, key=lambda s: s.at_h)

    @model_validator(mode="after")
    def _agree(self) -> "Dose":
        if self.schedule is None:
            return self
        at = [s.at_h for s in self.schedule]
        if len(at) != len(self.times_h) or any(abs(a - b) > DOSE_TIME_TOLERANCE_H for a, b in zip(at, self.times_h)):
            raise ValueError(f"times_h ({', '.join(f'{t:g}' for t in self.times_h)} h) disagrees with schedule's "
                             f"at_h ({', '.join(f'{t:g}' for t in at)} h): give one of them, or the same times")
        first = self.schedule[0].mg_per_kg
        if abs(self.mg_per_kg - first) > 1e-9 * first:
            raise ValueError(f"mg_per_kg ({self.mg_per_kg:g}) disagrees with the schedule's first dose ({first:g} mg/kg "
                             f"at {at[0]:g} h): with a schedule, mg_per_kg is the first dose's; leave it out")
        return self

    def first_dose_mg(self, body_weight_g: float) -> float:
        """The first dose's mass (mg) in an animal of body_weight_g: mg_per_kg x body weight."""
        return float(self.mg_per_kg) * float(body_weight_g) / 1000.0

    def amounts_mg_per_kg(self, times_h: list[float] | None = None) -> list[float]:
        """mg/kg of the dose at each time (times_h by default): the schedule's, else mg_per_kg each."""
        times = self.times_h if times_h is None else times_h
        if self.schedule is None:
            return [float(self.mg_per_kg)] * len(times)
        out = []
        for t in times:
            match = [s.mg_per_kg for s in self.schedule if abs(s.at_h - t) <= DOSE_TIME_TOLERANCE_H * max(1.0, t)]
            out.append(float(match[0]) if match else float(self.mg_per_kg))
        return out

    def relative_amounts(self, times_h: list[float] | None = None) -> list[float]:
        """Each dose in units of the first (mg_per_kg): the weights that keep %ID a percent of the first dose."""
        return [a / float(self.mg_per_kg) for a in self.amounts_mg_per_kg(times_h)]


# ---------------------------------------------------------------------------------------------
# doses per body surface area (issue 13)
# ---------------------------------------------------------------------------------------------
def km_kg_per_m2(species: str) -> float:
    """The species' Km factor, body weight / body surface area (kg/m2): FDA CDER 2005 guidance, Table 1
    (data/dose_conversion.yaml)."""
    node = library.table("dose_conversion")["km_kg_per_m2"]
    if species not in node:
        raise ValueError(f"no body-surface-area factor (Km) for species {species!r}; known: {', '.join(node)}")
    return library.value(node[species], f"dose_conversion.km_kg_per_m2.{species}")


def mg_per_kg_from_m2(mg_per_m2: float, species: str) -> float:
    """mg/kg = (mg/m2) / Km (FDA CDER 2005 guidance, Table 1; Freireich 1966)."""
    return float(mg_per_m2) / km_kg_per_m2(species)


def mg_per_m2_from_kg(mg_per_kg: float, species: str) -> float:
    """mg/m2 = (mg/kg) x Km (FDA CDER 2005 guidance, Table 1)."""
    return float(mg_per_kg) * km_kg_per_m2(species)


def dose_per_area_to_per_kg(data: Any) -> Any:
    """A formulation mapping whose dose gives mg_per_m2, with dose.mg_per_kg filled from it and the
    subject's species (the formulation's before-validator). mg_per_kg written beside it is refused
    unless it equals the conversion (what the formulation's own dump writes); a bad mg_per_m2 or
    species is left for their fields' own validation to report."""
    dose = data.get("dose") if isinstance(data, dict) else None
    if not isinstance(dose, dict) or dose.get("mg_per_m2") is None:
        return data
    dose = dict(dose)
    subject = data.get("subject") if isinstance(data.get("subject"), dict) else {}
    species = str(subject.get("species", "mouse")).strip().lower()
    per_m2 = _parsed(MgPerM2, dose["mg_per_m2"])
    if dose.get("schedule") is not None:
        raise ValueError("dose.mg_per_m2: not with dose.schedule (a schedule's doses are in mg_per_kg); "
                         "convert each dose to mg/kg, or give equal doses with times_h")
    if per_m2 is None or not per_m2 > 0 or species not in library.table("dose_conversion")["km_kg_per_m2"]:
        dose.setdefault("mg_per_kg", 1.0)   # placeholder: the field's own error names the problem once
        return {**data, "dose": dose}
    per_kg = mg_per_kg_from_m2(per_m2, species)
    km = km_kg_per_m2(species)
    if per_kg > MAX_MG_PER_KG:
        raise ValueError(f"dose.mg_per_m2: {per_m2:g} mg/m2 is {per_kg:g} mg/kg in a {species} (Km {km:g} kg/m2), "
                         f"above the {MAX_MG_PER_KG:g} mg/kg allowed")
    written = _parsed(MgPerKg, dose.get("mg_per_kg")) if dose.get("mg_per_kg") is not None else None
    if dose.get("mg_per_kg") is not None and (written is None or abs(written - per_kg) > 1e-9 * per_kg):
        raise ValueError(f"dose: give mg_per_kg or mg_per_m2, not both ({dose['mg_per_kg']} mg/kg beside "
                         f"{per_m2:g} mg/m2, which is {per_kg:g} mg/kg in a {species}, Km {km:g} kg/m2)")
    dose["mg_per_kg"] = per_kg
    return {**data, "dose": dose}

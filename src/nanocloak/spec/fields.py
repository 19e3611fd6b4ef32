"""Field types of the formulation contract, converted at the edge: case-insensitive enumerations,
library keys (the vocabularies are the data files'), finite numbers (no booleans, NaN or
infinity), and numbers with units ("0.07 um" for a field in nm; pint converts, a unit of the wrong
dimension is refused)."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator

from nanocloak.library import tables as library


def lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


@lru_cache(maxsize=1)
def units():
    import pint  # imported lazily: only needed when a value carries its own unit

    return pint.UnitRegistry()


def finite(value: Any) -> Any:
    """Numbers are numbers: no booleans (YAML's yes/true), no NaN or infinity."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {str(value).lower()}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"must be a finite number (got {value})")
    return value


def with_unit(unit: str):
    """Accept a plain number (already in `unit`) or a string like '0.07 um' converted to `unit`."""

    def convert(value: Any) -> Any:
        if not isinstance(value, str):
            return finite(value)
        text = value.strip()
        try:
            return finite(float(text))
        except ValueError as exc:
            if "finite" in str(exc):
                raise
        import pint

        try:
            quantity = units().Quantity(text)
            return finite(float(quantity.to(unit).magnitude))
        except pint.DimensionalityError:
            raise ValueError(f"{text!r} has the wrong unit: this field is in {unit}") from None
        except ValueError as exc:
            if "finite" in str(exc):
                raise
            raise ValueError(f"{text!r} is not a number (this field is in {unit})") from None
        except Exception:  # pint's parser raises many kinds on free text
            raise ValueError(f"{text!r} is not a number (this field is in {unit})") from None

    return BeforeValidator(convert)


def library_key(table: str, kind: str):
    def check(value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError(f"expected a {kind} key (text)")
        try:
            return library.resolve_key(table, value, kind)
        except library.LibraryError as exc:
            raise ValueError(str(exc)) from None

    return check


Lower = BeforeValidator(lower)


Num = Annotated[float, BeforeValidator(finite)]


Nm = Annotated[float, with_unit("nm")]


Hours = Annotated[float, with_unit("hour")]


Minutes = Annotated[float, with_unit("minute")]


Grams = Annotated[float, with_unit("gram")]


MilliVolts = Annotated[float, with_unit("millivolt")]


KiloDalton = Annotated[float, with_unit("kilodalton")]


Density = Annotated[float, with_unit("g/cm**3")]


MgPerKg = Annotated[float, with_unit("mg/kg")]


WattPerCm2 = Annotated[float, with_unit("W/cm**2")]


Megahertz = Annotated[float, with_unit("MHz")]


Mm3 = Annotated[float, with_unit("mm**3")]


Shape = Annotated[Literal["sphere", "rod", "cage", "shell", "sheet"], Lower]


SurfaceKind = Annotated[Literal["none", "peg", "membrane"], Lower]


Cell = Annotated[str, BeforeValidator(library_key("membranes", "membrane source"))]   # membranes.yaml


Donor = Annotated[Literal["syngeneic", "allogeneic", "xenogeneic"], Lower]


Method = Annotated[str, BeforeValidator(library_key("coating_methods", "coating method"))]   # coating_methods.yaml


LigandName = Annotated[str, BeforeValidator(library_key("ligands", "ligand"))]   # ligands.yaml


TriggerKind = Annotated[Literal["ph", "nir", "hyperthermia", "ros", "gsh", "enzyme", "ultrasound"], Lower]


Species = Annotated[Literal["mouse", "rat", "human"], Lower]


Host = Annotated[Literal["immunocompetent", "nude", "scid"], Lower]


Site = Annotated[Literal["subcutaneous", "orthotopic", "brain", "lung_metastasis"], Lower]


TumorModel = Annotated[Literal["allograft", "xenograft"], Lower]


Storage = Annotated[Literal["fresh", "4c", "-80c", "lyophilized"], Lower]



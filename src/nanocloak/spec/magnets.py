"""treatment.magnets (issue 17): a magnet held over the tumor for magnetic targeting of magnetic cores
(model/magnetic.py, docs/magnetic.md). Field and gradient are at the tumor."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from nanocloak.library import tables as library
from nanocloak.spec.fields import Hours, Minutes, with_unit

Tesla = Annotated[float, with_unit("tesla")]
TeslaPerMetre = Annotated[float, with_unit("tesla/m")]

#: the particle model carries one capture window per dose copy (particle_kernel P_CAPT_*)
MAX_MAGNETS = 1


class Magnet(BaseModel):
    """A static magnet over the tumor: from at_h for duration_min, flux density field_T and its
    gradient gradient_T_per_m at the tumor."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, validate_default=True)

    at_h: Hours = Field(ge=0)
    duration_min: Minutes = Field(gt=0, le=24 * 60)
    field_T: Tesla = Field(gt=0, le=2)
    gradient_T_per_m: TeslaPerMetre = Field(gt=0, le=1000)


def check_magnets(f) -> None:
    """treatment.magnets against the rest of the design: a tumor to hold it over, a particle, within
    the simulation, and one window (the model's limit)."""
    magnets = f.treatment.magnets
    if not magnets:
        return
    if f.subject.tumor is None:
        raise ValueError("treatment.magnets: a magnet is held over the tumor; add subject.tumor or remove the magnet")
    if f.core.is_free_drug:
        raise ValueError("treatment.magnets: a free drug (core.material: free) has no particle for a magnet to pull")
    if len(magnets) > MAX_MAGNETS:
        raise ValueError(f"treatment.magnets: at most {MAX_MAGNETS} magnet window is modelled (got {len(magnets)}); "
                         "merge them into one at_h / duration_min")
    end = f.simulate.end_h
    late = [m.at_h for m in magnets if m.at_h > end]
    if late:
        raise ValueError(f"treatment.magnets: a magnet at {late[0]:g} h is after simulate.end_h ({end:g} h)")


def check_magnetic_core(core) -> None:
    """core.magnetic_fraction / core.magnetic_crystal_nm (the core's magnetic content, model/magnetic.py):
    only on a magnetic core (materials.yaml `magnetic: true`), and a crystal no larger than the core."""
    given = [k for k in ("magnetic_fraction", "magnetic_crystal_nm") if getattr(core, k, None) is not None]
    if not given:
        return
    if not library.entry("materials", core.material).get("magnetic", False):
        raise ValueError(f"{given[0]}: the core ({core.material}) is not magnetic (materials.yaml); "
                         "a magnetic content is allowed only on a magnetic core such as iron_oxide")
    crystal = getattr(core, "magnetic_crystal_nm", None)
    if crystal is not None and core.diameter_nm is not None and crystal > core.diameter_nm:
        raise ValueError(f"magnetic_crystal_nm ({crystal:g} nm) is larger than the core (diameter_nm "
                         f"{core.diameter_nm:g} nm): a crystal lies inside the core")


__all__ = ["Magnet", "check_magnetic_core", "check_magnets"]

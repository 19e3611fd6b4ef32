"""treatment.magnets (issue 17): a magnet held over the tumor for magnetic targeting of magnetic cores
(model/magnetic.py, docs/magnetic.md). Field and gradient are at the tumor."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

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


__all__ = ["Magnet", "check_magnets"]

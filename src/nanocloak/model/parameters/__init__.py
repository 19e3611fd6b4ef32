"""Resolving a formulation into every model parameter (value, unit, source), by effect:

- core.py: ParameterSet, ResolvedFormulation, the allowed ranges of overrides;
- body.py: species physiology and the tumor's share of body and flow; free drug;
- resolution.py: the particle, the surface's effect factors, organs, coating classes, doses;
- tumor.py: the tumor compartment and the surface's targeting factors;
- systems.py: the circulation and the batched linear system the solver integrates.
"""

from nanocloak.model.parameters.core import MPS_ORGANS, Parameter, ParameterSet, ResolvedFormulation, check_override, override_range
from nanocloak.model.parameters.resolution import resolve
from nanocloak.model.parameters.systems import Circulation, circulation, particle_systems

__all__ = ["MPS_ORGANS", "Circulation", "Parameter", "ParameterSet", "ResolvedFormulation", "check_override",
           "circulation", "override_range", "particle_systems", "resolve"]

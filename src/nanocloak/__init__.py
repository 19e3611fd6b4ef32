"""nanocloak: design and simulate cell-membrane-cloaked nanomedicines for tumor-targeted delivery.

    import nanocloak
    f = nanocloak.load("examples/rbc_plga.yaml")
    r = nanocloak.simulate(f)          # r.metrics, r.timecourse, r.to_json()
    rs = nanocloak.simulate_many([f, f2])

The top-level names load on first use (PEP 562), so `import nanocloak` and the command line's
start-up do not pay for numpy, scipy, pydantic and numba before they are needed.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from nanocloak.version import __version__  # the one place it is defined

#: public name -> the module that defines it
_LAZY = {
    "Formulation": "nanocloak.spec.formulation",
    "load": "nanocloak.spec.formulation",
    "simulate": "nanocloak.simulation.core",
    "simulate_many": "nanocloak.simulation.core",
    "simulate_particles": "nanocloak.simulation.core",
    "FormulationError": "nanocloak.errors",
    "NanocloakError": "nanocloak.errors",
}

# spelled out (not built from _LAZY) so linters and type checkers can read it
__all__ = [
    "Formulation",
    "FormulationError",
    "NanocloakError",
    "__version__",
    "load",
    "simulate",
    "simulate_many",
    "simulate_particles",
]

if TYPE_CHECKING:
    from nanocloak.errors import FormulationError, NanocloakError
    from nanocloak.simulation.core import simulate, simulate_many, simulate_particles
    from nanocloak.spec.formulation import Formulation, load


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nanocloak' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value          # later look-ups skip this hook
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

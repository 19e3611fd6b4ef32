"""The one door into nanocloak: the only place the app imports the package.

Every other module of the app (the rest of backend/, the pages, figures, jobs) reaches the package
through `module(name)` or the functions here. When the package's modules move, MODULES is the only
thing to update. Imports are lazy (made on first use) so that `import nanocloak.app` stays cheap and
a missing piece breaks only its page.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for annotations only: the package itself is imported lazily, through module()
    from nanocloak.errors import FormulationError, NanocloakError

#: where each piece of the package lives
MODULES: dict[str, str] = {
    "errors": "nanocloak.errors",
    "version": "nanocloak.version",
    "formulation": "nanocloak.spec.formulation",
    "safe_yaml": "nanocloak.library.safe_yaml",
    "library": "nanocloak.library.tables",
    "listing": "nanocloak.library.listing",
    "simulation": "nanocloak.simulation.core",
    "report": "nanocloak.io.report",
    "fabrication": "nanocloak.lab.fabrication",
    "labdata": "nanocloak.lab.labdata",
    "nca": "nanocloak.lab.nca",
    "fitting": "nanocloak.inference.fitting",
    "space": "nanocloak.screen.space",
    "screening": "nanocloak.screen.screening",
    "evidence": "nanocloak.evidence",
    "observables": "nanocloak.evidence.observables",
}

#: the modules a screen and a fit use (the job forkserver imports them once, see preload)
JOB_MODULES = ("simulation", "formulation", "space", "screening", "fitting", "labdata")


def module(name: str):
    """The package module `name` (a key of MODULES)."""
    return importlib.import_module(MODULES[name])


def package_errors() -> tuple[type[FormulationError], type[NanocloakError]]:
    """(FormulationError, NanocloakError) of the package."""
    errors = module("errors")
    return errors.FormulationError, errors.NanocloakError


def version() -> str:
    return module("version").__version__


def simulate(f):
    """nanocloak.simulate (the function; the subpackage is nanocloak.simulation)."""
    return module("simulation").simulate(f)


def simulate_many(formulations: list):
    return module("simulation").simulate_many(list(formulations))


def preload() -> None:
    """Import the modules a screen and a fit use (the job forkserver inherits them)."""
    for name in JOB_MODULES:
        try:
            module(name)
        except ImportError:        # a missing optional dependency fails its job with a clear message later
            pass

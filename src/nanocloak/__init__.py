"""nanocloak: design and simulate cell-membrane-cloaked nanomedicines for tumor-targeted delivery.

    import nanocloak
    f = nanocloak.load("examples/rbc_plga.yaml")
    r = nanocloak.simulate(f)          # r.metrics, r.timecourse, r.to_json()
    rs = nanocloak.simulate_many([f, f2])
"""

__version__ = "0.1.0"

from nanocloak.spec.formulation import Formulation, load  # noqa: E402
from nanocloak.simulate.simulation import simulate, simulate_many, simulate_particles  # noqa: E402
from nanocloak.errors import FormulationError, NanocloakError  # noqa: E402

__all__ = ["Formulation", "load", "simulate", "simulate_many", "simulate_particles", "FormulationError", "NanocloakError", "__version__"]

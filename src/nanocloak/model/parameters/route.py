"""The dosing route's parameters (dose.route; data/routes.yaml; docs/routes.md).

iv needs none. Every other route starts the dose in a depot that empties first order at
`route.depot_exit_rate_per_h`: intratumoral, the injection site inside the tumor, into the tumor's
vessels (no functional intratumor lymphatics, Stanczyk 2010); intraperitoneal and subcutaneous into
the venous blood via lymph: subcutaneous from the fraction the lymphatics take up against particle
size (Oussoren 1997), intraperitoneal size-independent (Hirano & Hunt 1985).
"""

from __future__ import annotations

import math

from nanocloak.library import tables as library
from nanocloak.model.parameters.core import ParameterSet
from nanocloak.spec.formulation import Formulation

DEPOT_ROUTES = ("intratumoral", "intraperitoneal", "subcutaneous")


def subcutaneous_absorbed_fraction(d_nm: float) -> tuple[float, str]:
    """Fraction of a subcutaneous dose the lymphatics take up, interpolated linearly in log(diameter)
    between the sourced points (held at the end values beyond them), and the points' sources."""
    table = library.table("routes")["subcutaneous"]
    points = sorted((library.value(p["diameter_nm"]), library.value(p["fraction"]), library.sourced(p["fraction"]).source)
                    for p in table["absorbed_fraction_by_size"])
    logs = [math.log(d) for d, _, _ in points]
    x = min(max(math.log(max(d_nm, 1e-9)), logs[0]), logs[-1])
    for (x0, (_, f0, _)), (x1, (_, f1, _)) in zip(zip(logs, points), zip(logs[1:], points[1:])):
        if x <= x1:
            fraction = f0 + (f1 - f0) * (x - x0) / (x1 - x0)
            break
    sources = "; ".join(sorted({s for _, _, s in points}))
    return fraction, sources


def absorption_rate_per_h(route: str, d_nm: float) -> tuple[float, str]:
    """(first-order exit rate of the dose's depot, its source): intratumoral (into the tumor's
    vessels), intraperitoneal or subcutaneous (into the venous blood)."""
    table = library.table("routes")
    if route == "intratumoral":
        node = library.sourced(table["intratumoral"]["exit_rate_per_h"])
        return node.value, node.source
    if route == "intraperitoneal":
        node = library.sourced(table["intraperitoneal"]["absorption_rate_per_h"])
        return node.value, node.source
    fraction, sources = subcutaneous_absorbed_fraction(d_nm)
    window = library.sourced(table["subcutaneous"]["observation_window_h"])
    # first-order depot: absorbed fraction F by the window T gives k = -ln(1 - F) / T
    rate = -math.log(1.0 - min(fraction, 0.999)) / window.value
    return rate, f"-ln(1 - F)/T: F = {fraction:.3g} at {d_nm:.0f} nm ({sources}); T: {window.source}"


def resolve_route(f: Formulation, ps: ParameterSet, d_h: float) -> None:
    """Record the route's depot exit rate (iv has no depot and keeps its parameter table)."""
    route = f.dose.route
    if route == "iv":
        return
    rate, source = absorption_rate_per_h(route, d_h)
    where = "injection site in the tumor -> tumor vessels" if route == "intratumoral" else \
        f"{route} depot -> venous blood (via lymph)"
    ps.set("route.depot_exit_rate_per_h", rate, "1/h", source, where)

"""Several results together, as `simulate_many` returns them: a list (so code written for a list
keeps working) with tables for analysis: `to_frame()` (long), `to_xarray()` (design x compartment
x time), `plot()` and a notebook view."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from nanocloak.simulation import notebook

if TYPE_CHECKING:                 # pandas costs ~0.4 s to import: only where a table is asked for
    import pandas as pd

FRAME_COLUMNS = ("design", "compartment", "t_h", "pct_id", "pct_id_per_g")


class ResultSet(list):
    """Results of `simulate_many`, in the order of the formulations given."""

    @property
    def designs(self) -> list[str]:
        """One label per result: the formulation's name, numbered (`name #2`) where names repeat."""
        seen: dict[str, int] = {}
        labels = []
        for r in self:
            seen[r.name] = seen.get(r.name, 0) + 1
            labels.append(r.name if seen[r.name] == 1 else f"{r.name} #{seen[r.name]}")
        return labels

    def to_frame(self) -> pd.DataFrame:
        """Long table: design, compartment, t_h, pct_id, pct_id_per_g (each result's own time course)."""
        import pandas as pd

        frames = [r.timecourse.assign(design=label) for label, r in zip(self.designs, self)]
        if not frames:
            return pd.DataFrame({c: [] for c in FRAME_COLUMNS})
        return pd.concat(frames, ignore_index=True)[list(FRAME_COLUMNS)]

    def to_xarray(self):
        """An xarray Dataset with pct_id and pct_id_per_g over design x compartment x t_h.

        t_h is the union of the designs' output times; a design not simulated at a time (another
        schedule or end) and a compartment a design lacks (no tumor) hold NaN, never an interpolation.
        Needs xarray (pip install 'nanocloak[notebook]')."""
        import pandas as pd

        from nanocloak.errors import require

        xr = require("xarray", "notebook")
        frame = self.to_frame()
        designs = self.designs
        compartments = list(dict.fromkeys(frame["compartment"]))
        times = np.unique(frame["t_h"].to_numpy(dtype=float))
        shape = (len(designs), len(compartments), len(times))
        data = {name: np.full(shape, np.nan) for name in ("pct_id", "pct_id_per_g")}
        d = pd.Index(designs).get_indexer(frame["design"])
        c = pd.Index(compartments).get_indexer(frame["compartment"])
        t = np.searchsorted(times, frame["t_h"].to_numpy(dtype=float))
        for name, values in data.items():
            values[d, c, t] = frame[name].to_numpy(dtype=float)
        units = {"pct_id": "% of one injected dose in the whole compartment",
                 "pct_id_per_g": "% of one injected dose per g of organ (blood: per mL)"}
        coords = {"design": designs, "compartment": compartments, "t_h": ("t_h", times, {"units": "h"})}
        return xr.Dataset({name: (("design", "compartment", "t_h"), v, {"units": units[name]}) for name, v in data.items()},
                          coords=coords)

    def plot(self, compartment: str = "blood_sample", ax=None, per_g: bool = False, log: bool = True):
        """One compartment of every design overlaid; returns the matplotlib Axes."""
        held = [compartment in r.series for r in self]
        if self and not any(held):
            from nanocloak.errors import NanocloakError

            raise NanocloakError(f"compartment {compartment!r}: no result holds it; they have "
                                 f"{', '.join(k for k in self[0].series if k != 'blood_sample_auc')}")
        ax = notebook.new_axes(ax)
        for label, r in zip(self.designs, self):
            notebook.draw(r, ax, (compartment,), per_g, log, label_prefix=f"{label}: ")
        ax.set_title(compartment)
        ax.legend(fontsize=8)
        return ax

    def _repr_html_(self) -> str:
        if not self:
            return "<em>no results</em>"
        columns = list(zip(self.designs, [r.metrics for r in self]))
        figure = notebook.svg(lambda ax: [notebook.draw(r, ax, ("blood_sample",), label_prefix=f"{label}: ")
                                          for label, r in zip(self.designs, self)])
        return (f"<div class='nanocloak-results'><strong>{len(self)} simulated designs</strong>"
                f"<div style='display:flex;gap:1em;align-items:flex-start;flex-wrap:wrap'>"
                f"<div>{notebook.metrics_table(columns)}</div><div>{figure}</div></div></div>")

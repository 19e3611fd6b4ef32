"""Results in a notebook: `_repr_html_` (a summary table and a small inline SVG figure) and
`plot()` (matplotlib) for one result and for a collection of them (simulation/collection.py).

The inline figure is drawn on a bare `matplotlib.figure.Figure` (no pyplot, no global state, any
backend); `plot()` uses pyplot so that the figure shows in Jupyter as usual.
"""

from __future__ import annotations

import io
from html import escape

import numpy as np

#: curves drawn by default (the lab-comparable blood sample and the organs that hold most of a dose)
DEFAULT_COMPARTMENTS = ("blood_sample", "liver", "spleen", "lung", "kidney", "tumor")
#: metrics shown in the summary table: (key, label, unit)
SUMMARY_METRICS = (
    ("hydrodynamic_diameter_nm", "hydrodynamic diameter", "nm"),
    ("blood_pct_id_1h", "blood at 1 h", "%ID"),
    ("blood_pct_id_24h", "blood at 24 h", "%ID"),
    ("blood_t_half_h", "blood terminal half-life", "h"),
    ("blood_auc_pct_id_h", "blood AUC", "%ID·h"),
    ("tumor_pct_id_24h", "tumor at 24 h", "%ID"),
    ("tumor_pct_id_per_g_24h", "tumor at 24 h", "%ID/g"),
    ("tumor_pct_id_max", "tumor peak", "%ID"),
    ("excreted_pct_id_end", "excreted by the end", "%ID"),
    ("mass_balance_error", "mass balance error", "%ID"),
)
INLINE_SIZE_IN = (4.6, 2.8)


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        return "" if not np.isfinite(value) else f"{float(value):.4g}"
    return escape(str(value))


def _curves(result, compartments, per_g: bool):
    """(compartment, t_h, y) for each asked compartment the result holds."""
    frame = result.timecourse
    column = "pct_id_per_g" if per_g else "pct_id"
    for name in compartments:
        rows = frame[frame["compartment"] == name]
        if not rows.empty:
            yield name, rows["t_h"].to_numpy(), rows[column].to_numpy()


def draw(result, ax, compartments=DEFAULT_COMPARTMENTS, per_g: bool = False, log: bool = True, label_prefix: str = ""):
    """Draw a result's curves on `ax` (%ID or %ID/g against time, log or linear y)."""
    for name, t, y in _curves(result, compartments, per_g):
        shown = y > 0 if log else np.isfinite(y)
        ax.plot(t[shown], y[shown], lw=1.5, label=f"{label_prefix}{name}")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("time after the first dose (h)")
    ax.set_ylabel("%ID/g (blood: %ID/mL)" if per_g else "%ID (whole compartment)")
    ax.grid(alpha=0.3, which="both")
    return ax


def new_axes(ax=None, size=(6.4, 4.0)):
    """`ax`, or a new pyplot figure's axes (shown inline in Jupyter)."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=size)
    return ax


def plot_result(result, ax=None, compartments=None, per_g: bool = False, log: bool = True):
    """One result's time courses on matplotlib axes (new ones unless `ax`); returns the Axes.
    compartments: None (the defaults this result holds), a name or a list of names."""
    if compartments is None:
        chosen = tuple(c for c in DEFAULT_COMPARTMENTS if c in result.series)
    else:
        chosen = (compartments,) if isinstance(compartments, str) else tuple(compartments)
        held = [k for k in result.series if k != "blood_sample_auc"]
        unknown = [c for c in chosen if c not in held]
        if unknown:
            from nanocloak.errors import NanocloakError

            raise NanocloakError(f"compartments: {unknown[0]!r} is not in this result; choose from {', '.join(held)}")
    ax = draw(result, new_axes(ax), chosen, per_g, log)
    ax.set_title(result.name)
    ax.legend(fontsize=8)
    return ax


def svg(draw_on, size=INLINE_SIZE_IN) -> str:
    """An inline SVG (text kept as text) of what `draw_on(ax)` draws, without pyplot."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    with rc_context({"svg.fonttype": "none", "font.size": 7}):
        fig = Figure(figsize=size)
        ax = fig.add_subplot()
        draw_on(ax)
        ax.legend(fontsize=6, ncols=2)
        fig.tight_layout()
        buf = io.StringIO()
        fig.savefig(buf, format="svg")
    text = buf.getvalue()
    return text[text.find("<svg"):]


def metrics_table(columns: list[tuple[str, dict]]) -> str:
    """HTML table: one row per summary metric, one column per (name, metrics)."""
    head = "".join(f"<th>{escape(name)}</th>" for name, _ in columns)
    rows = []
    for key, label, unit in SUMMARY_METRICS:
        values = [m.get(key) for _, m in columns]
        if all(v is None for v in values):
            continue
        cells = "".join(f"<td>{_fmt(v)}</td>" for v in values)
        rows.append(f"<tr><th style='text-align:left'>{escape(label)}</th><td>{escape(unit)}</td>{cells}</tr>")
    return f"<table><tr><th>metric</th><th>unit</th>{head}</tr>{''.join(rows)}</table>"


def organ_table(metrics: dict) -> str:
    organs = metrics.get("organ_pct_id_24h") or {}
    if not organs:
        return ""
    head = "".join(f"<th>{escape(k)}</th>" for k in organs)
    cells = "".join(f"<td>{_fmt(v)}</td>" for v in organs.values())
    return f"<table><tr><th>%ID at 24 h</th>{head}</tr><tr><td></td>{cells}</tr></table>"


def result_html(result) -> str:
    """Notebook view of one result: the key metrics, the organs at 24 h and a small figure."""
    figure = svg(lambda ax: draw(result, ax))
    calibration = result.calibration_id if result.resolved is not None else ""
    return (f"<div class='nanocloak-result'><strong>{escape(result.name)}</strong> "
            f"<span style='color:#666'>(simulated, calibration {escape(calibration)})</span>"
            f"<div style='display:flex;gap:1em;align-items:flex-start;flex-wrap:wrap'>"
            f"<div>{metrics_table([('value', result.metrics)])}{organ_table(result.metrics)}</div>"
            f"<div>{figure}</div></div></div>")

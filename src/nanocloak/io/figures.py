"""Figures: matplotlib without a display (Agg), imported only when a figure is drawn, and a figure
as PNG bytes. Every command's figures go through these two functions."""

from __future__ import annotations

import io as _bytes_io


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed; imported on first use)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png(fig) -> bytes:
    """The figure as PNG bytes (110 dpi), closed after."""
    buf = _bytes_io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    pyplot().close(fig)
    return buf.getvalue()


def kaplan_meier_figure(r):
    """Kaplan-Meier curves of the virtual cohort (model/therapy/survival.py), treated against
    untreated: the fraction of animals whose tumor is still below the humane endpoint."""
    from nanocloak.model.therapy.survival import km_curve

    s = r.therapy.survival
    fig, ax = pyplot().subplots(figsize=(5.5, 4.0))
    for days, label, color in ((s.control_days, "untreated", "grey"), (s.treated_days, r.name, "C0")):
        t, alive = km_curve(days, s.follow_up_days)
        ax.step(t, 100.0 * alive, where="post", lw=2, color=color, label=label)
        if alive[-1] > 0:                                   # censored at the follow-up
            ax.plot([t[-1]], [100.0 * alive[-1]], marker="|", ms=12, color=color)
    for median, color in ((s.median_untreated_d, "grey"), (s.median_d, "C0")):
        if median is not None:
            ax.axvline(median, color=color, lw=1, ls=":")
    ax.axhline(50.0, color="black", lw=0.5, ls=":")
    events = [d for d in (*s.treated_days, *s.control_days) if d < s.follow_up_days]
    censored = len(events) < 2 * len(s.treated_days)
    ax.set_xlim(0.0, s.follow_up_days if censored or not events else min(s.follow_up_days, 1.25 * max(events)))
    ax.set_ylim(-2.0, 102.0)
    ax.set_xlabel("days after first dose")
    ax.set_ylabel("animals below the humane endpoint (%)")
    ax.set_title(f"Survival, virtual cohort of {s.growth_factors.size}")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def kaplan_meier_caption(r) -> str:
    """What survival.png shows, with the medians (or why there is none)."""
    m, s = r.metrics, r.therapy.survival

    def median(key: str) -> str:
        return f"{m[key]:.1f} d" if m.get(key) is not None else f"not reached by day {s.follow_up_days:g}"

    return (f"Kaplan-Meier survival of a virtual cohort of {s.growth_factors.size} animals (tumor growth rates "
            f"lognormal, CV {100.0 * _cv(s.growth_factors):.0f}%): the share whose tumor has not reached the "
            f"humane-endpoint volume ({r.therapy.endpoint_mm3:.0f} mm3), treated and untreated; dotted: medians "
            f"(treated {median('survival_median_d')}, untreated {median('survival_median_untreated_d')}).")


def _cv(factors) -> float:
    import numpy as np

    return float(np.std(factors) / np.mean(factors)) if len(factors) > 1 else 0.0

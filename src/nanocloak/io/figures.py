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

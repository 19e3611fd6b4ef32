"""Small building blocks shared by the pages: tables, number formatting, progress bars, notes."""

from __future__ import annotations

import html as _html
import math
from typing import Any, Sequence

from dash import html


def fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return ""
        if v != 0 and (abs(v) >= 1e6 or abs(v) < 1e-3):
            return f"{v:.{digits - 1}e}"
        return f"{v:.{digits}g}"
    try:
        import numpy as np

        if isinstance(v, np.generic):
            return fmt(v.item(), digits)
    except ImportError:
        pass
    return str(v)


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]], id: str | None = None, className: str = "tbl",
          numeric: bool = True):
    """A table as ONE component (escaped HTML in a Markdown block): a table of hundreds of cells as
    hundreds of Dash components makes the page's renderer slow on every update."""
    from dash import dcc

    def cell(v: Any, tag: str) -> str:
        text = fmt(v) if numeric else str(v)
        cls = ' class="num"' if isinstance(v, (int, float)) and not isinstance(v, bool) else ""
        return f"<{tag}{cls}>{_html.escape(text)}</{tag}>"

    head = "<tr>" + "".join(cell(c, "th") for c in columns) + "</tr>"
    body = "".join("<tr>" + "".join(cell(c, "td") for c in row) + "</tr>" for row in rows)
    ident = f' id="{_html.escape(id)}"' if id else ""
    return dcc.Markdown(f'<table class="{_html.escape(className)}"{ident}><thead>{head}</thead><tbody>{body}</tbody></table>',
                        dangerously_allow_html=True, className="tbl-wrap")


def frame_table(df, id: str | None = None, max_rows: int = 500) -> html.Table:
    cols = [str(c) for c in df.columns]
    rows = df.head(max_rows).itertuples(index=False, name=None)
    return table(cols, list(rows), id=id)


def data_attributes(attrs: dict[str, str]) -> dict[str, Any]:
    """HTML data-* attributes, passed to a Dash component as **kwargs (Dash takes them as wildcard
    props; its component signatures list only the named props, hence Any)."""
    return attrs


def progress(done: int, total: int, text: str = "") -> html.Div:
    pct = 0.0 if not total else max(0.0, min(100.0, 100.0 * done / total))
    return html.Div([
        html.Div(html.Div(style={"width": f"{pct:.1f}%"}, className="bar-fill"), className="bar"),
        html.Span(text or (f"{done} / {total}" if total else ""), className="bar-text"),
    ], className="progress", **data_attributes({"data-done": str(done), "data-total": str(total)}))


def options(pairs, search=None) -> list[dict]:
    """Dropdown options with the label as a component and a short `search` text: the dropdown
    indexes every substring of each option's value, label and search text, so long labels of
    many options make it slow; a component label is not indexed."""
    out = []
    for value, label in pairs:
        o = {"label": html.Span(label), "value": value}
        if search is not None:
            o["search"] = search(value)
        out.append(o)
    return out


def note(text, kind: str = "info", id: str | None = None) -> html.Div:
    kwargs: dict[str, Any] = {"id": id} if id else {}
    return html.Div(text, className=f"note note-{kind}", **kwargs)


def error(text) -> html.Div:
    return note(text, "error")


def internal(exc: BaseException) -> html.Div:
    """An unexpected error, shown on the page (and its traceback on the server's stderr) instead of
    a failed request that leaves the page silent."""
    import sys
    import traceback

    traceback.print_exception(exc, file=sys.stderr)
    return note(f"internal error ({type(exc).__name__}: {exc}); the server's log has the details", "error")


def hidden(show: bool) -> dict:
    return {} if show else {"display": "none"}

"""HTML pages from Jinja2 templates (io/templates/*.html.j2) with autoescaping on: every value a user
or a data file supplies is escaped by the engine, not by hand at each call site."""

from __future__ import annotations

from functools import cache


@cache
def _environment():
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("nanocloak", "io/templates"),
                              autoescape=jinja2.select_autoescape(["html", "html.j2"], default=True),
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render(template: str, **context) -> str:
    """The named template filled with `context` (a missing variable is an error, not a blank)."""
    return _environment().get_template(template).render(**context)


def markup(html_text: str):
    """Mark HTML that nanocloak built itself (e.g. pandas' escaped table) as safe to insert as is."""
    from markupsafe import Markup

    return Markup(html_text)

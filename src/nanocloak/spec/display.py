"""How a formulation shows itself in a notebook (Jupyter calls `Formulation._repr_html_`): one small
table of what was designed, each block in plain words with its unit, and the YAML folded below."""

from __future__ import annotations

from html import escape


def _core(f) -> str:
    c = f.core
    if c.is_free_drug:
        return "free drug (no carrier)"
    parts = [c.material]
    if c.diameter_nm is not None:
        parts.append(f"{c.diameter_nm:g} nm")
    if c.shape is not None:
        parts.append(c.shape)
    if c.zeta_mV is not None:
        parts.append(f"zeta {c.zeta_mV:g} mV")
    return ", ".join(parts)


def _surface(f) -> str:
    s = f.surface
    if s.kind == "peg" and s.peg is not None:
        text = f"PEG {s.peg.mw_kDa:g} kDa"
    elif s.kind == "membrane" and s.membrane is not None:
        sources = " + ".join(f"{src.cell}{' ' + src.line if src.line else ''}"
                             f"{f' ({src.fraction:g})' if len(s.membrane.sources) > 1 else ''}"
                             for src in s.membrane.sources)
        text = f"{sources} membrane, {s.membrane.method}"
    else:
        text = s.kind
    if s.ligands:
        text += "; ligands " + ", ".join(f"{lig.name} ({lig.per_particle:g}/particle)" for lig in s.ligands)
    return text


def _payloads(f) -> str:
    if not f.payloads:
        return "none"
    return ", ".join(f"{p.drug} {p.loading_wt_pct:g} wt%" + (f" ({p.release.model} release)" if p.release else "")
                     for p in f.payloads)


def _dose(f) -> str:
    d = f.dose
    amounts = d.amounts_mg_per_kg() if hasattr(d, "amounts_mg_per_kg") else [d.mg_per_kg] * len(d.times_h)
    if len(set(amounts)) > 1:                     # a schedule of unequal doses: each with its time
        each = ", ".join(f"{a:g} mg/kg at {t:g} h" for a, t in zip(amounts, d.times_h))
        return f"{each} ({d.basis}, {d.route})"
    times = ", ".join(f"{t:g}" for t in d.times_h)
    return f"{d.mg_per_kg:g} mg/kg ({d.basis}) {d.route} at {times} h"


def _subject(f) -> str:
    s = f.subject
    text = s.species + (f", {s.body_weight_g:g} g" if s.body_weight_g is not None else "")
    if s.tumor is not None:
        t = s.tumor
        text += f"; tumor {t.line} {t.site}, {t.volume_mm3:g} mm³"
    return text


def _treatment(f) -> str | None:
    t = f.treatment
    lasers = [f"laser at {las.at_h:g} h for {las.duration_min:g} min" for las in t.lasers]
    return "; ".join(lasers) if lasers else None


def formulation_html(f) -> str:
    """An HTML summary of a formulation for notebooks: the design in one table, its YAML folded."""
    rows = [("core", _core(f)), ("surface", _surface(f)), ("payloads", _payloads(f)), ("dose", _dose(f)),
            ("subject", _subject(f)), ("treatment", _treatment(f)), ("simulate", f"0 to {f.simulate.end_h:g} h")]
    body = "".join(f"<tr><th style='text-align:left'>{escape(k)}</th><td style='text-align:left'>{escape(v)}</td></tr>"
                   for k, v in rows if v)
    return (f"<div class='nanocloak-formulation'><strong>{escape(f.name)}</strong> "
            f"<span style='color:#666'>(nanocloak formulation)</span>"
            f"<table>{body}</table>"
            f"<details><summary>YAML</summary><pre>{escape(f.to_yaml())}</pre></details></div>")

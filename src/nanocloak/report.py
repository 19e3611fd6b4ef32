"""Figures, the one-page HTML report and the output directory of `nanocloak simulate --out`."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Sequence

import numpy as np

from .results import SimulationResult

ORGAN_ORDER = ("blood", "liver", "spleen", "lung", "kidney", "heart", "brain", "tumor", "rest")
BAR_TIMES_H = (1.0, 24.0, 168.0)
LITERATURE_MEDIAN_DE24 = 0.76  # Cheng YH et al. 2020 ACS Nano 14:3075, 376 data sets


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _positive(t, y):
    m = (y > 0) & (t > 0)
    return t[m], y[m]


def blood_figure(results: Sequence[SimulationResult]):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for r in results:
        ax.plot(*_positive(r.t_h, r.series["blood_sample"]), label=r.name, lw=2)
    ax.set_yscale("log")
    ax.set_xlabel("time after first dose (h)")
    ax.set_ylabel("blood (%ID, lab sample x blood volume)")
    ax.set_title("Particles in blood")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def organ_figure(r: SimulationResult):
    plt = _plt()
    times = [t for t in BAR_TIMES_H if t <= r.t_h[-1] + 1e-9] or [float(r.t_h[-1])]
    organs = [o for o in ORGAN_ORDER if o in r.series]
    per_g = [o for o in organs if o in r.organ_masses_g]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    width = 0.8 / len(times)
    for k, t in enumerate(times):
        vals = [float(np.interp(t, r.t_h, r.series[o])) for o in organs]
        a1.bar(np.arange(len(organs)) + k * width, vals, width, label=f"{t:g} h")
        vals_g = [float(np.interp(t, r.t_h, r.series[o])) / r.organ_masses_g[o] for o in per_g]
        a2.bar(np.arange(len(per_g)) + k * width, vals_g, width, label=f"{t:g} h")
    for ax, names, ylabel in ((a1, organs, "%ID (whole organ)"), (a2, per_g, "%ID/g")):
        ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names, rotation=30)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=8)
    a1.set_title("Where the dose is")
    a2.set_title("Concentration per gram")
    fig.tight_layout()
    return fig


def tumor_figure(results: Sequence[SimulationResult]):
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.0))
    for r in results:
        if "tumor" not in r.series:
            continue
        a1.plot(r.t_h, r.series["tumor"], lw=2, label=r.name)
        a2.plot(r.t_h, r.series["tumor"] / r.organ_masses_g["tumor"], lw=2, label=r.name)
    a1.axhline(LITERATURE_MEDIAN_DE24, color="grey", ls="--", lw=1, label="literature median at 24 h")
    a1.set_ylabel("tumor (%ID)")
    a2.set_ylabel("tumor (%ID/g)")
    for ax in (a1, a2):
        ax.set_xlabel("time after first dose (h)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    a1.set_title("Tumor delivery")
    fig.tight_layout()
    return fig


def partition_figure(r: SimulationResult):
    plt = _plt()
    keys = [k for k in ORGAN_ORDER + ("excreted_urine", "excreted_feces", "degraded") if k in r.series]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.stackplot(r.t_h, [r.series[k] for k in keys], labels=keys)
    ax.set_xlabel("time after first dose (h)")
    ax.set_ylabel("%ID")
    ax.set_title("Mass balance: every particle accounted for")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return fig


def drug_figure(r: SimulationResult):
    """Released drug and free drug concentration per organ, for the first payload."""
    plt = _plt()
    drug, p = next(iter(r.payloads.items()))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.0))
    a1.plot(p.t_h, p.released_pct, lw=2, color="C3")
    a1.set_ylabel("released from particles (% of drug given)")
    a1.set_ylim(0, 105)
    a1.set_title(f"{drug}: release in the body")
    for organ in ("tumor", "heart", "liver", "kidney", "spleen"):
        if organ in p.free_ug:
            conc = p.free_ug[organ] / p.organ_mass_g[organ]
            t, c = _positive(p.t_h, conc)
            a2.plot(t, c, lw=2, label=organ)
    a2.set_yscale("log")
    a2.set_ylabel("free drug (ug/g)")
    a2.set_title("released drug in organs")
    for ax in (a1, a2):
        ax.set_xlabel("time after first dose (h)")
        ax.grid(alpha=0.3, which="both")
    a2.legend(fontsize=8)
    fig.tight_layout()
    return fig


def therapy_figure(r: SimulationResult):
    """Tumor volume, treated against untreated, and the temperature under each laser."""
    plt = _plt()
    th = r.therapy
    n = 2 if th.heating else 1
    fig, axes = plt.subplots(1, n, figsize=(5.5 * n, 4.0))
    axes = np.atleast_1d(axes)
    ax = axes[0]
    ax.plot(th.t_h / 24.0, th.control_mm3, lw=2, color="grey", label="untreated")
    ax.plot(th.t_h / 24.0, th.treated_mm3, lw=2, color="C0", label=r.name)
    for h in th.heating:
        ax.axvline(h.laser.at_h / 24.0, color="C3", lw=1, ls=":")
    ax.set_xlabel("days after first dose")
    ax.set_ylabel("tumor volume (mm3)")
    ax.set_title(f"Tumor growth (TGI {r.metrics.get('tgi_pct', float('nan')):.0f}%)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if th.heating:
        ax = axes[1]
        for k, h in enumerate(th.heating):
            minutes = (h.t_h - h.laser.at_h) * 60.0
            ax.plot(minutes, h.tumor_C, color=f"C{k}", lw=2, label=f"tumor, laser at {h.laser.at_h:g} h")
            ax.plot(minutes, h.skin_C, color=f"C{k}", lw=1, ls="--", label="skin")
        ax.axhline(43, color="grey", lw=1, ls=":")
        ax.set_xlabel("minutes from laser on")
        ax.set_ylabel("temperature (C)")
        ax.set_title("Photothermal heating")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    _plt().close(fig)
    return buf.getvalue()


def summary_text(r: SimulationResult) -> list[str]:
    """Plain-language sentences for the report."""
    f = r.resolved.formulation
    m = r.metrics
    doses = f.dose.times_h
    schedule = "one i.v. dose" if len(doses) == 1 else f"{len(doses)} i.v. doses (at {', '.join(f'{t:g}' for t in doses)} h)"
    subj = f.subject
    what = (f"{f.payloads[0].drug} given as a free solution (curves are the drug's %ID)" if f.core.is_free_drug else
            f"{f.core.material} core ({m['hydrodynamic_diameter_nm']:.0f} nm as the body sees it, zeta {m['zeta_coated_mV']:.0f} mV)")
    lines = [f"{f.name}: {what}, {schedule} of {f.dose.mg_per_kg:g} mg/kg ({f.dose.basis} basis) in a "
             f"{subj.body_weight_g:g} g {subj.host} {subj.species}."]
    if "blood_pct_id_24h" in m:
        half = f", terminal half-life {m['blood_t_half_h']:.1f} h" if "blood_t_half_h" in m else ""
        lines.append(f"Blood: {m.get('blood_pct_id_1h', float('nan')):.0f}% of a dose at 1 h and {m['blood_pct_id_24h']:.1f}% at 24 h{half}.")
    organs = m.get("organ_pct_id_24h")
    if organs:
        top = sorted(((v, k) for k, v in organs.items() if k not in ("blood",)), reverse=True)[:3]
        noun = "of the drug is" if f.core.is_free_drug else "particles are"
        lines.append(f"At 24 h most {noun} in the " + ", ".join(f"{k} ({v:.1f}%)" for v, k in top) + ".")
    if "tumor_pct_id_24h" in m and not f.core.is_free_drug:
        ratio = m["tumor_pct_id_24h"] / LITERATURE_MEDIAN_DE24
        word = "above" if ratio > 1.15 else "below" if ratio < 0.87 else "close to"
        lines.append(f"Tumor ({subj.tumor.line}, {subj.tumor.site}): {m['tumor_pct_id_24h']:.2f} %ID at 24 h "
                     f"({m['tumor_pct_id_per_g_24h']:.1f} %ID/g), {word} the literature median of "
                     f"{LITERATURE_MEDIAN_DE24} %ID (Cheng 2020); peak {m['tumor_pct_id_max']:.2f} %ID.")
    if r.payloads:
        drug = next(iter(r.payloads))
        parts = ([f"{drug}: {m['released_pct_24h']:.0f}% of the drug given has left the particles by 24 h"]
                 if "released_pct_24h" in m and not f.core.is_free_drug else [drug])
        if "tumor_drug_auc_ug_h_per_g" in m:
            parts.append(f"tumor drug AUC {m['tumor_drug_auc_ug_h_per_g']:.3g} ug h/g (peak {m['tumor_drug_cmax_ug_per_g']:.3g} ug/g)")
        parts.append(f"heart exposure to released drug {m['heart_drug_auc_ug_h_per_g']:.3g} ug h/g")
        lines.append("; ".join(parts) + ".")
    if "tgi_pct" in m:
        doubling = (f"it doubles in {m['days_to_2x_volume']:.1f} days" if m.get("days_to_2x_volume") is not None
                    else "it never doubles")
        heat = ""
        if "tumor_temperature_max_C" in m:
            heat = (f" Under the laser the tumor reaches {m['tumor_temperature_max_C']:.1f} C (skin {m['skin_temperature_max_C']:.1f} C, "
                    f"thermal dose {m['thermal_dose_cem43_min']:.0f} CEM43 min).")
        lines.append(f"Outcome: tumor {m['tumor_volume_mm3_end']:.0f} mm3 at the end vs {m['control_tumor_volume_mm3_end']:.0f} mm3 "
                     f"untreated (TGI {m['tgi_pct']:.0f}%); {doubling}.{heat}")
    lines.append(f"Excreted by the end: {m['excreted_pct_id_end']:.1f}% of a dose; mass balance error {m['mass_balance_error']:.1e}.")
    return lines


def html_report(r: SimulationResult, figures: dict[str, bytes]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{_fmt(v)}</td></tr>" for k, v in r.metrics.items() if not isinstance(v, dict))
    organs = r.metrics.get("organ_pct_id_24h", {})
    per_g = r.metrics.get("organ_pct_id_per_g_24h", {})
    organ_rows = "".join(f"<tr><td>{k}</td><td>{v:.3g}</td><td>{_fmt(per_g.get(k))}</td></tr>" for k, v in organs.items())
    imgs = "".join(f'<figure><img src="data:image/png;base64,{base64.b64encode(b).decode()}" alt="{n}"><figcaption>{n}</figcaption></figure>'
                   for n, b in figures.items())
    summary = "".join(f"<li>{html.escape(s)}</li>" for s in summary_text(r))
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>nanocloak: {html.escape(r.name)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}}
figure{{display:inline-block;margin:0.5em}}img{{max-width:100%}}.note{{color:#666;font-size:0.9em}}</style></head><body>
<h1>{html.escape(r.name)}</h1><ul>{summary}</ul>
{imgs}
<h2>Metrics</h2><table>{rows}</table>
<h2>Organs at 24 h</h2><table><tr><th>organ</th><th>%ID</th><th>%ID/g</th></tr>{organ_rows}</table>
<p class="note">%ID is a percent of one dose; organs include their capillary blood (unperfused dissection);
blood metrics are a lab's sample concentration times the blood volume. Every parameter with its source is in
parameters.csv; how far to trust the model: docs/validation.md. nanocloak {r.to_dict()['version']}.</p>
</body></html>"""


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return html.escape(str(v))


def write_outputs(r: SimulationResult, out_dir: str | Path) -> Path:
    """Write the run's files; built in a temporary directory and moved in place, so a failure
    leaves nothing half written."""
    from .output_dir import atomic_directory

    out = Path(out_dir)
    with atomic_directory(out) as tmp:
        r.timecourse.to_csv(tmp / "timecourse.csv", index=False)
        (tmp / "metrics.json").write_text(json.dumps(r.to_dict()["metrics"], indent=2), encoding="utf-8")
        (tmp / "result.json").write_text(r.to_json(indent=1), encoding="utf-8")
        r.parameters.to_csv(tmp / "parameters.csv", index=False)
        (tmp / "formulation.yaml").write_text(r.resolved.formulation.to_yaml(), encoding="utf-8")
        figures = {"blood.png": _png(blood_figure([r])), "organs.png": _png(organ_figure(r)),
                   "partition.png": _png(partition_figure(r))}
        if "tumor" in r.series:
            figures["tumor.png"] = _png(tumor_figure([r]))
        if r.therapy is not None:
            figures["therapy.png"] = _png(therapy_figure(r))
        if r.payloads:
            figures["drug.png"] = _png(drug_figure(r))
            _drug_timecourse(r).to_csv(tmp / "drug_timecourse.csv", index=False)
        for name, data in figures.items():
            (tmp / name).write_bytes(data)
        (tmp / "report.html").write_text(html_report(r, figures), encoding="utf-8")
    return out


def _drug_timecourse(r: SimulationResult):
    """Tidy drug time course: t_h, drug, organ, free_ug, in_particles_ug, free_ug_per_g."""
    import pandas as pd

    frames = []
    for drug, p in r.payloads.items():
        for organ, free in p.free_ug.items():
            held = p.bound_ug.get(organ, np.zeros_like(free))
            mass = p.organ_mass_g.get(organ)
            frames.append(pd.DataFrame({"t_h": p.t_h, "drug": drug, "organ": organ, "free_ug": free, "in_particles_ug": held,
                                        "free_ug_per_g": free / mass if mass else np.nan}))
    return pd.concat(frames, ignore_index=True)


def comparison_table(results: Sequence[SimulationResult]):
    import pandas as pd

    keys = ["hydrodynamic_diameter_nm", "zeta_coated_mV", "blood_pct_id_1h", "blood_pct_id_24h", "blood_t_half_h",
            "blood_auc_pct_id_h", "tumor_pct_id_24h", "tumor_pct_id_per_g_24h", "tumor_pct_id_max", "excreted_pct_id_end"]
    rows = []
    for r in results:
        row = {"name": r.name}
        row.update({k: r.metrics.get(k) for k in keys})
        organs = r.metrics.get("organ_pct_id_24h", {})
        row.update({f"{o}_pct_id_24h": organs.get(o) for o in ("liver", "spleen", "lung", "kidney", "heart")})
        rows.append(row)
    return pd.DataFrame(rows)


def write_comparison(results: Sequence[SimulationResult], out_dir: str | Path) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = comparison_table(results)
    table.to_csv(out / "comparison.csv", index=False)
    figs = {"blood.png": _png(blood_figure(results))}
    if any("tumor" in r.series for r in results):
        figs["tumor.png"] = _png(tumor_figure(results))
    for n, b in figs.items():
        (out / n).write_bytes(b)
    imgs = "".join(f'<img src="{n}" style="max-width:100%">' for n in figs)
    (out / "comparison.html").write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>nanocloak comparison</title></head>"
        f"<body style='font-family:system-ui;max-width:1100px;margin:2em auto'><h1>Comparison</h1>"
        f"{table.to_html(index=False, float_format=lambda v: f'{v:.3g}')}{imgs}</body></html>", encoding="utf-8")
    return out

"""Figures, the one-page HTML report and the output directory of `nanocloak simulate --out`.

The figures plot the result's own numbers, the ones timecourse.csv and metrics.json hold (per gram:
the tidy time course's `pct_id_per_g`, on the grown tumor mass when the tumor grows), and each
compartment has one colour in every figure (COMPARTMENT_COLORS)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from nanocloak.io.figures import kaplan_meier_caption, kaplan_meier_figure, png, pyplot
from nanocloak.io.report_oxygen import oxygen_lines
from nanocloak.model.magnetic import magnet_lines
from nanocloak.simulation import metrics as _metrics
from nanocloak.simulation.results import SimulationResult

ORGAN_ORDER = ("blood", "liver", "spleen", "lung", "kidney", "heart", "brain", "tumor", "rest")
PARTITION_ORDER = ORGAN_ORDER + ("excreted_urine", "excreted_feces", "degraded", "depot")   # depot: dose.route
BAR_TIMES_H = (1.0, 24.0, 168.0)

#: one colour per compartment, the same in every figure: matplotlib's tab20 (dark and light of a hue
#: for related compartments: kidney/urine, liver/feces); tab20's blues are left for what is not a
#: compartment (released drug, the treated arm)
COMPARTMENT_COLORS = {
    "blood": "#d62728", "liver": "#8c564b", "spleen": "#9467bd", "lung": "#17becf", "kidney": "#ff7f0e",
    "heart": "#e377c2", "brain": "#bcbd22", "tumor": "#2ca02c", "rest": "#c7c7c7",
    "excreted_urine": "#ffbb78", "excreted_feces": "#c49c94", "degraded": "#7f7f7f", "depot": "#dbdb8d",
}
COMPARTMENT_LABELS = {"excreted_urine": "excreted (urine)", "excreted_feces": "excreted (feces)",
                      "depot": "depot (injection site)"}


def literature_median_de24() -> float:
    """The published median tumor delivery at 24 h (%ID), drawn for scale (data/reference_values.yaml)."""
    from nanocloak.library import tables as library

    return library.value(library.table("reference_values")["tumor_delivery_median_pct_id_24h"],
                         "reference_values.tumor_delivery_median_pct_id_24h")


def _plt():
    return pyplot()


def _color(name: str) -> str:
    return COMPARTMENT_COLORS["blood" if name == "blood_sample" else name]


def _line_color(results: Sequence[SimulationResult], i: int, compartment: str):
    """One result: the compartment's colour; several: one colour per result (the same in every figure)."""
    return _color(compartment) if len(results) == 1 else f"C{i % 10}"


def _positive(t, y):
    m = (y > 0) & (t > 0)
    return t[m], y[m]


def per_gram(r: SimulationResult) -> dict[str, np.ndarray]:
    """compartment -> %ID/g at r.t_h: the `pct_id_per_g` of the result's tidy time course (what
    timecourse.csv holds; the tumor's on its grown mass), NaN where no mass applies."""
    return {name: g["pct_id_per_g"].to_numpy() for name, g in r.timecourse.groupby("compartment", sort=False)}


def blood_figure(results: Sequence[SimulationResult]):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, r in enumerate(results):
        ax.plot(*_positive(r.t_h, r.series["blood_sample"]), label=r.name, lw=2, color=_line_color(results, i, "blood"))
    ax.set_yscale("log")
    ax.set_xlabel("time after first dose (h)")
    ax.set_ylabel("blood (%ID, lab sample x blood volume)")
    ax.set_title("Particles in blood")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _bar_times(r: SimulationResult) -> list[float]:
    return [t for t in BAR_TIMES_H if t <= r.t_h[-1] + 1e-9] or [float(r.t_h[-1])]


def organ_figure(r: SimulationResult):
    plt = _plt()
    times = _bar_times(r)
    organs = [o for o in ORGAN_ORDER if o in r.series]
    per_g_series = per_gram(r)
    per_g = [o for o in organs if o in r.organ_masses_g]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    width = 0.8 / len(times)
    shades = plt.get_cmap("Greys")(np.linspace(0.35, 0.85, len(times)))   # times, not compartments
    for k, t in enumerate(times):
        vals = [_metrics.value_at(r.t_h, r.series[o], t) for o in organs]
        a1.bar(np.arange(len(organs)) + k * width, vals, width, label=f"{t:g} h", color=shades[k])
        vals_g = [_metrics.value_at(r.t_h, per_g_series[o], t) for o in per_g]
        a2.bar(np.arange(len(per_g)) + k * width, vals_g, width, label=f"{t:g} h", color=shades[k])
    for ax, names, ylabel in ((a1, organs, "%ID (whole organ)"), (a2, per_g, "%ID/g (tissue)")):
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
    for i, r in enumerate(results):
        if "tumor" not in r.series:
            continue
        color = _line_color(results, i, "tumor")
        a1.plot(r.t_h, r.series["tumor"], lw=2, label=r.name, color=color)
        a2.plot(r.t_h, per_gram(r)["tumor"], lw=2, label=r.name, color=color)
    a1.axhline(literature_median_de24(), color="grey", ls="--", lw=1, label="literature median at 24 h")
    a1.set_ylabel("tumor (%ID)")
    a2.set_ylabel("tumor (%ID/g)")
    for ax in (a1, a2):
        ax.set_xlabel("time after first dose (h)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    a1.set_title("Tumor delivery")
    a2.set_title("Tumor concentration")
    fig.tight_layout()
    return fig


def partition_figure(r: SimulationResult):
    plt = _plt()
    keys = [k for k in PARTITION_ORDER if k in r.series]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.stackplot(r.t_h, [r.series[k] for k in keys], labels=[COMPARTMENT_LABELS.get(k, k) for k in keys],
                 colors=[_color(k) for k in keys])
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
    a1.plot(p.t_h, p.released_pct, lw=2, color="tab:blue")
    a1.set_ylabel("released from particles (% of drug given)")
    a1.set_ylim(0, 105)
    a1.set_title(f"{drug}: release in the body")
    for organ in ("tumor", "heart", "liver", "kidney", "spleen"):
        if organ in p.free_ug:
            conc = p.free_ug[organ] / p.organ_mass_g[organ]
            t, c = _positive(p.t_h, conc)
            a2.plot(t, c, lw=2, label=organ, color=_color(organ))
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
    return png(fig)


def _dose_phrase(r: SimulationResult) -> str:
    d = r.resolved.formulation.dose
    route = "" if d.route == "iv" else f" {d.route}"          # dose.route (docs/routes.md)
    if d.schedule is not None and len(d.times_h) > 1:
        return f"{len(d.times_h)}{route} doses ({_schedule_phrase(d)}; %ID of the first)"
    if len(d.times_h) == 1:
        return f"a {d.mg_per_kg:g} mg/kg{route} dose"
    return f"{len(d.times_h)}{route} doses of {d.mg_per_kg:g} mg/kg (at {', '.join(f'{t:g}' for t in d.times_h)} h)"


def _per_dose_lines(r: SimulationResult) -> list[str]:
    """Each dose's own blood retention (per_dose), when there are several doses."""
    entries = r.per_dose() or []
    parts = []
    for e in entries[1:] if len(entries) > 1 else []:
        at = [f"{e[k]:.1f}% at {h} h" for h, k in ((4, "blood_pct_of_dose_4h"), (24, "blood_pct_of_dose_24h")) if k in e]
        if at:
            parts.append(f"the dose at {e['at_h']:g} h ({e['mg_per_kg']:g} mg/kg) keeps {' and '.join(at)} of itself")
    return [f"Per dose in blood: {'; '.join(parts)}."] if parts else []


def _schedule_phrase(d) -> str:
    """'5 mg/kg at 0 h, 10 mg/kg at 72 h' (dose.schedule)."""
    return ", ".join(f"{mg:g} mg/kg at {t:g} h" for t, mg in zip(d.times_h, d.amounts_mg_per_kg()))


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def figure_caption(r: SimulationResult, name: str) -> str:
    """What the figure `name` (a file name of write_outputs) shows, in words and units."""
    span = f"over {r.t_h[-1]:g} h after {_dose_phrase(r)}"
    grown = " of the grown tumor" if r.tumor_mass_g is not None else ""
    if name == "blood.png":
        return f"Blood (lab sample, %ID, log scale) {span}."
    if name == "organs.png":
        times = _and([f"{t:g}" for t in _bar_times(r)])
        return (f"Organs at {times} h after {_dose_phrase(r)}: whole-organ %ID (left) and %ID per gram of tissue "
                f"(right{'; tumor per gram' + grown if 'tumor' in r.series else ''}).")
    if name == "partition.png":
        return f"Mass balance (%ID, stacked): the dose in blood, organs, excreted and degraded {span}."
    if name == "tumor.png":
        t = r.resolved.formulation.subject.tumor
        return (f"Tumor ({t.line}, {t.site}) %ID (left; dashed: literature median, {literature_median_de24()} %ID at 24 h) "
                f"and %ID/g{grown} (right) {span}.")
    if name == "therapy.png":
        th = r.therapy
        tgi = r.metrics.get("tgi_pct")
        text = (f"Tumor volume (mm3), treated and untreated, over {th.t_h[-1] / 24.0:g} days after {_dose_phrase(r)}"
                + (f" (TGI {tgi:.0f}%)" if tgi is not None else ""))
        if th.heating:
            text += "; right: tumor and skin temperature (C) from each laser's start (min)"
        return text + "."
    if name == "survival.png":
        return kaplan_meier_caption(r)
    if name == "drug.png":
        drug = next(iter(r.payloads))
        return (f"{drug}: released from the particles (% of the drug given, left) and free drug in organs "
                f"(ug/g, log scale, right) {span}.")
    raise KeyError(f"no caption for figure {name!r}")


#: unit of a metric from its name (FORMULATION_SPEC.md's naming), first match wins
_METRIC_UNITS = (
    (r"mass_balance_error$", "fraction of dose"),
    (r"_mmHg(_|$)", "mmHg"),                             # tumor oxygen state (docs/therapy.md)
    (r"_uM(_|$)", "uM"),
    (r"_glucose_fraction_", "fraction of baseline"),
    (r"_ros_relative_", "x healthy tissue"),
    (r"_activation_max$", "x aerobic potency"),
    (r"_kill_fraction$", "fraction of cells"),
    (r"_acoustic_J$", "J"),
    (r"^lung_metastases_count", "metastases (expected count)"),        # docs/brain_metastasis.md
    (r"^ctc_captured_fraction$", "fraction of CTCs leaving blood"),
    (r"_L_per_h_per_kg$", "L/h/kg"),                     # FcRn catabolic clearance (docs/payload.md)
    (r"_recycled_fraction$", "fraction"),
    (r"_assumptions$", "what rests on assumptions"),
    (r"^survival_.*_d$", "days"), (r"^survival_censored_fraction", "fraction of the cohort"),      # survival.py
    (r"^survival_cohort_size$", "animals"), (r"^survival_note$", "why a median is null"),
    (r"_assumed$", "true/false"),
    (r"^days_", "days"),
    (r"tumor_to_muscle|_contrast_|_transmission$", "ratio"),
    (r"_per_s(_|$)", "1/s"),
    (r"_mg_per_mL(_|$)", "mg/mL"),
    (r"_hu_", "HU"),
    (r"_per_cm(_|$)", "1/cm"),
    (r"_fe_mM_", "mM"),
    (r"_field_T$", "T"),
    (r"_mm$", "mm"),
    (r"_pct_id_per_g(_|$)", "%ID/g"),
    (r"_auc_pct_id_h$", "%ID h"),
    (r"_pct_id(_|$)", "%ID"),
    (r"_ug_h_per_g$", "ug h/g"),
    (r"_ug_per_g$", "ug/g"),
    (r"_mm3(_|$)", "mm3"),
    (r"^days_", "days"),
    (r"_cem43_min$", "CEM43 min"),
    (r"_C$", "C"),
    (r"_mV$", "mV"),
    (r"_nm$", "nm"),
    (r"_mM$", "mM"),
    (r"^released_pct_", "% of drug given"),
    (r"_pct(_|$)", "%"),
    (r"_h$", "h"),
)


def metric_unit(name: str) -> str:
    """The unit of a metric ('' if its name carries none)."""
    return next((unit for pattern, unit in _METRIC_UNITS if re.search(pattern, name)), "")


def report_figures(r: SimulationResult) -> dict:
    """file name -> matplotlib Figure, the report's figures (captions: figure_caption)."""
    figures = {"blood.png": blood_figure([r]), "organs.png": organ_figure(r), "partition.png": partition_figure(r)}
    if "tumor" in r.series:
        figures["tumor.png"] = tumor_figure([r])
    if r.therapy is not None:
        figures["therapy.png"] = therapy_figure(r)
        if r.therapy.survival is not None:
            figures["survival.png"] = kaplan_meier_figure(r)
    if r.payloads:
        figures["drug.png"] = drug_figure(r)
    return figures


def summary_text(r: SimulationResult) -> list[str]:
    """Plain-language sentences for the report."""
    f = r.resolved.formulation
    m = r.metrics
    doses = f.dose.times_h
    schedule = "one i.v. dose" if len(doses) == 1 else f"{len(doses)} i.v. doses (at {', '.join(f'{t:g}' for t in doses)} h)"
    subj = f.subject
    what = (f"{f.payloads[0].drug} given as a free solution (curves are the drug's %ID)" if f.core.is_free_drug else
            f"{f.core.material} core ({m['hydrodynamic_diameter_nm']:.0f} nm as the body sees it, zeta {m['zeta_coated_mV']:.0f} mV)")
    amount = f"of {f.dose.mg_per_kg:g} mg/kg"
    if f.dose.schedule is not None and len(doses) > 1:
        schedule, amount = f"{len(doses)} i.v. doses", f"({_schedule_phrase(f.dose)}; %ID counts the first)"
    lines = [f"{f.name}: {what}, {schedule} {amount} ({f.dose.basis} basis) in a "
             f"{subj.body_weight_g:g} g {subj.host} {subj.species}."]
    if "blood_pct_id_24h" in m:
        half = f", terminal half-life {m['blood_t_half_h']:.1f} h" if "blood_t_half_h" in m else ""
        at_1h = m.get("blood_pct_id_1h", float("nan"))
        lines.append(f"Blood: {at_1h:.0f}% of a dose at 1 h and {m['blood_pct_id_24h']:.1f}% at 24 h{half}.")
    lines += _per_dose_lines(r)
    organs = m.get("organ_pct_id_24h")
    if organs:
        top = sorted(((v, k) for k, v in organs.items() if k not in ("blood",)), reverse=True)[:3]
        noun = "of the drug is" if f.core.is_free_drug else "particles are"
        lines.append(f"At 24 h most {noun} in the " + ", ".join(f"{k} ({v:.1f}%)" for v, k in top) + ".")
    if "tumor_pct_id_24h" in m and not f.core.is_free_drug:
        ratio = m["tumor_pct_id_24h"] / literature_median_de24()
        word = "above" if ratio > 1.15 else "below" if ratio < 0.87 else "close to"
        lines.append(f"Tumor ({subj.tumor.line}, {subj.tumor.site}): {m['tumor_pct_id_24h']:.2f} %ID at 24 h "
                     f"({m['tumor_pct_id_per_g_24h']:.1f} %ID/g), {word} the literature median of "
                     f"{literature_median_de24()} %ID (Cheng 2020); peak {m['tumor_pct_id_max']:.2f} %ID.")
    if r.payloads:
        drug = next(iter(r.payloads))
        parts = ([f"{drug}: {m['released_pct_24h']:.0f}% of the drug given has left the particles by 24 h"]
                 if "released_pct_24h" in m and not f.core.is_free_drug else [drug])
        if "tumor_drug_auc_ug_h_per_g" in m:
            parts.append(f"tumor drug AUC {m['tumor_drug_auc_ug_h_per_g']:.3g} ug h/g (peak {m['tumor_drug_cmax_ug_per_g']:.3g} ug/g)")
        parts.append(f"heart exposure to released drug {m['heart_drug_auc_ug_h_per_g']:.3g} ug h/g")
        if "free_drug_t_half_h" in m:                     # the released drug's own (docs/payload.md)
            fcrn = f", FcRn recycling {m['fcrn_recycled_fraction']:.2f}" if "fcrn_recycled_fraction" in m else ""
            parts.append(f"released drug half-life {m['free_drug_t_half_h']:.3g} h{fcrn}")
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
        lines += oxygen_lines(m)
    lines += magnet_lines(m)                              # treatment.magnets (model/magnetic.py)
    lines.append(f"Excreted by the end: {m['excreted_pct_id_end']:.1f}% of a dose; mass balance error {m['mass_balance_error']:.1e}.")
    return lines


def html_report(r: SimulationResult, figures: dict[str, bytes]) -> str:
    """report.html: the summary, the figures inline, the metrics with units, organs at 24 h (io/templates)."""
    from nanocloak.io.templates import render

    per_g = r.metrics.get("organ_pct_id_per_g_24h", {})
    return render(
        "report.html.j2", name=r.name, summary=summary_text(r), version=r.to_dict()["version"],
        figures=[{"base64": base64.b64encode(b).decode(), "caption": figure_caption(r, n)} for n, b in figures.items()],
        metrics=[{"name": k, "value": _fmt(v), "unit": metric_unit(k)} for k, v in r.metrics.items() if not isinstance(v, dict)],
        organs=[{"name": k, "pct_id": f"{v:.3g}", "pct_id_per_g": _fmt(per_g.get(k))}
                for k, v in r.metrics.get("organ_pct_id_24h", {}).items()],
        imaging=[{"name": k, "value": _fmt(v), "unit": metric_unit(k)}          # metrics.imaging (docs/imaging.md)
                 for k, v in r.metrics.get("imaging", {}).items() if not isinstance(v, dict)])


def _fmt(v) -> str:
    """A metric as the report prints it (the template escapes it)."""
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):                     # e.g. lung_metastases_assumptions
        return "; ".join(str(x) for x in v)
    return str(v)


def write_outputs(r: SimulationResult, out_dir: str | Path, force: bool = False) -> Path:
    """Write the run's files (staged, then moved in; the folder rules of output_dir), so a failure
    leaves nothing half written and nothing of the user's is touched."""
    from nanocloak.io.output_dir import output_folder

    out = Path(out_dir)
    with output_folder(out, "simulate", force) as tmp:
        r.timecourse.to_csv(tmp / "timecourse.csv", index=False)
        (tmp / "metrics.json").write_text(json.dumps(r.to_dict()["metrics"], indent=2), encoding="utf-8")
        (tmp / "result.json").write_text(r.to_json(indent=1), encoding="utf-8")
        r.parameters.to_csv(tmp / "parameters.csv", index=False)
        (tmp / "formulation.yaml").write_text(r.resolved.formulation.to_yaml(), encoding="utf-8")
        figures = {name: _png(fig) for name, fig in report_figures(r).items()}
        if r.payloads:
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
        row: dict[str, object] = {"name": r.name}
        row.update({k: r.metrics.get(k) for k in keys})
        organs = r.metrics.get("organ_pct_id_24h", {})
        row.update({f"{o}_pct_id_24h": organs.get(o) for o in ("liver", "spleen", "lung", "kidney", "heart")})
        rows.append(row)
    return pd.DataFrame(rows)


def write_comparison(results: Sequence[SimulationResult], out_dir: str | Path, force: bool = False) -> Path:
    from nanocloak.io.output_dir import output_folder

    out = Path(out_dir)
    with output_folder(out, "compare", force) as staged:
        _write_comparison_files(results, staged)
    return out


def _write_comparison_files(results: Sequence[SimulationResult], out) -> None:
    table = comparison_table(results)
    table.to_csv(out / "comparison.csv", index=False)
    figs = {"blood.png": _png(blood_figure(results))}
    if any("tumor" in r.series for r in results):
        figs["tumor.png"] = _png(tumor_figure(results))
    for n, b in figs.items():
        (out / n).write_bytes(b)
    captions = {"blood.png": f"Blood (lab sample, %ID, log scale) of the {len(results)} formulations, by time after the first dose.",
                "tumor.png": "Tumor %ID (left) and %ID/g (right; per gram of the grown tumor where it grows) of the "
                             "formulations, by time after the first dose."}
    from nanocloak.io.templates import markup, render

    page = render("comparison.html.j2", table=markup(table.to_html(index=False, float_format=lambda v: f"{v:.3g}")),
                  figures=[{"file": n, "caption": captions[n]} for n in figs])
    (out / "comparison.html").write_text(page, encoding="utf-8")

"""Report sentences for sonodynamic therapy and the tumor oxygen state (docs/therapy.md)."""

from __future__ import annotations


def oxygen_lines(m: dict) -> list[str]:
    """Sonodynamic dose and the tumor oxygen state in words, from a result's metrics."""
    lines = []
    if "sdt_ros_mM" in m:
        lines.append(f"Sonodynamic: {m['sdt_absorbed_acoustic_J']:.3g} J of ultrasound absorbed in the tumor gave "
                     f"{m['sdt_ros_mM']:.3g} mM of reacting ROS, killing {100 * m['sdt_kill_fraction']:.0f}% of the "
                     "proliferating cells (the sensitiser's ROS yield is an assumption: read it as an ordering).")
    if "tumor_po2_mmHg_min" in m:
        line = (f"Tumor oxygen: pO2 {m['tumor_po2_mmHg_baseline']:.3g} mmHg at rest, lowest {m['tumor_po2_mmHg_min']:.4g} "
                f"mmHg; glucose down to {100 * m['tumor_glucose_fraction_min']:.1f}% of baseline; H2O2 from glucose "
                f"oxidase up to {m['tumor_h2o2_extra_uM_max']:.3g} uM.")
        activated = [k.removesuffix("_activation_max") for k in m if k.endswith("_activation_max")]
        for drug in activated:
            line += f" {drug} acts at up to {m[drug + '_activation_max']:.3g}x its aerobic potency."
        if m.get("ros_trigger_crossed_by_gox"):
            line += (" The H2O2 raises the tumor's ROS past a ROS release trigger's threshold; the release itself is "
                     "simulated at the tumor's own ROS level.")
        lines.append(line)
    return lines

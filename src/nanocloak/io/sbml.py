"""SBML Level 3 export of a formulation's particle model (python-libsbml), for COPASI, tellurium,
libRoadRunner.

What it carries: particle disposition only, i.e. everything that shapes nanocloak's particle curves
(the whole-body particle model with its parameters as resolved, coating classes, the dose schedule
with its repeat-dose clearance factors, and tumor vessels opened by laser heating, which the
therapy chain computes and which change the particle curves). Not in the model: drug payloads, their
release and the free drug, ultrasound, the heating itself, photodynamic doses and tumor growth;
none of them changes the particle curves in nanocloak (the particle model uses the tumor's mass at
dosing). The document says so in its notes. A free-drug formulation has no particle model and is
refused (SbmlExportError).

Each (coating class, dose) of the formulation becomes its own copy of the state set (prefix
`e{n}_`), as in nanocloak itself (doses superpose, each with its own uptake clock and clearance
factor). A dose arrives, mixed through the circulating blood, as the initial amounts (t = 0) or by
an event at its time (persistent trigger `time >= e{n}_t_dose`, values from the trigger time) that
adds the bolus amounts (`e{n}_bolus_*`) and starts the copy's uptake clock: it sets the parameter
`e{n}_clock_start` to the dose time, and the Hill ramp K(tau) = Kmax tau^n / (K50^n + tau^n) of
whole_body.uptake takes tau = abs(time - e{n}_clock_start), the time since the dose. No rate law
has a piecewise term: every discontinuity is an event, where the integrator restarts (the former
`piecewise(time - t_dose, time > t_dose, 0)` clock made CVODE stall just after a dose, issue 11).
The abs never acts where it matters: an event fires only once time >= t_dose, so after the dose
tau >= 0; before it the copy holds nothing and its rates are 0 whatever tau is. It is there for a
simulator's reset (libRoadRunner `reset()` restores species and time but keeps parameters that
events changed): clock_start then still holds the dose time, and the plain difference would be
negative before the dose (pow of a negative base: NaN, times 0 still NaN). The clock is a
parameter, not a rate-rule state: both state forms tried (time since the dose, dose time) slowed
or failed CVODE just after a dose. Heat-opened tumor vessels multiply the tumor's exchange by `e{n}_tumor_perm`, which
events switch to the window's factor and back at the window's edges; it is a rate-rule parameter
(d/dt = 0), so a reset restores it. Species are amounts in %ID of the (first) dose; an unequal
schedule (dose.schedule) is carried as each copy's bolus scaled by its dose / the first; the compartment is a
unit placeholder (hasOnlySubstanceUnits). Assignment rules give the spec's partition (blood,
organs, excreted, degraded) and the lab blood sample.

Output at a dose time: the model gives the amounts just after the bolus (SBML event semantics),
nanocloak's series the trough just before it; elsewhere they agree within the engine's accuracy.
"""

from __future__ import annotations

import numpy as np

from nanocloak.errors import NanocloakError, require
from nanocloak.model import particle as wb
from nanocloak.model.parameters import particle_systems
from nanocloak.simulation.core import resolve_formulation as resolve
from nanocloak.spec.formulation import Formulation

libsbml = require("libsbml", "sbml")   # the [sbml] extra


class SbmlExportError(NanocloakError):
    """A formulation (or part of one) the SBML export cannot carry."""


NOTES = ("<body xmlns=\"http://www.w3.org/1999/xhtml\"><p>nanocloak particle model: particle disposition only "
         "(%ID of the first dose; hours; a dose.schedule's unequal doses scale their copies' boluses). Drug payloads "
         "and their release, free drug, ultrasound, heating, photodynamic "
         "doses and tumor growth are not in this model (they do not change the particle curves); heat-opened tumor "
         "vessels are (e{n}_tumor_perm). Each (coating class, dose) is a copy e{n}_ of the states; a dose is an event "
         "at e{n}_t_dose that adds e{n}_bolus_* and starts that copy's uptake clock (e{n}_clock_start). At a dose "
         "time the model gives the amounts just after the bolus, nanocloak the trough before it.</p></body>")


def _check(code: int, what: str) -> None:
    if code != libsbml.LIBSBML_OPERATION_SUCCESS:
        raise NanocloakError(f"SBML export failed at {what}: {libsbml.OperationReturnValue_toString(code)}")


class _Builder:
    def __init__(self, name: str):
        self.doc = libsbml.SBMLDocument(3, 2)
        self.model = self.doc.createModel()
        self.model.setId("nanocloak_" + "".join(ch if ch.isalnum() else "_" for ch in name)[:60])
        self.model.setName(name)
        self.model.setTimeUnits("dimensionless")
        c = self.model.createCompartment()
        c.setId("body")
        c.setConstant(True)
        c.setSize(1.0)
        c.setSpatialDimensions(3)

    def parameter(self, pid: str, value: float, constant: bool = True) -> str:
        p = self.model.createParameter()
        _check(p.setId(pid), pid)
        p.setValue(float(value))
        p.setConstant(constant)
        return pid

    def species(self, sid: str, amount: float = 0.0) -> str:
        s = self.model.createSpecies()
        _check(s.setId(sid), sid)
        s.setCompartment("body")
        s.setInitialAmount(float(amount))
        s.setHasOnlySubstanceUnits(True)
        s.setBoundaryCondition(False)
        s.setConstant(False)
        return sid

    def reaction(self, rid: str, source: str, target: str | None, rate: str) -> None:
        r = self.model.createReaction()
        _check(r.setId(rid), rid)
        r.setReversible(False)
        ref = r.createReactant()
        ref.setSpecies(source)
        ref.setStoichiometry(1.0)
        ref.setConstant(True)
        if target is not None:
            prod = r.createProduct()
            prod.setSpecies(target)
            prod.setStoichiometry(1.0)
            prod.setConstant(True)
        law = r.createKineticLaw()
        _check(law.setMath(_parse(rate)), rid)

    def ode_parameter(self, pid: str, value: float, derivative: str) -> str:
        """A parameter integrated with the states (rate rule), so that a simulator's reset puts it
        back to its initial value like the species (libRoadRunner's reset() keeps the values events
        gave other parameters)."""
        self.parameter(pid, value, constant=False)
        rule = self.model.createRateRule()
        _check(rule.setVariable(pid), pid)
        _check(rule.setMath(_parse(derivative)), pid)
        return pid

    def assignment(self, pid: str, formula: str) -> None:
        p = self.model.createParameter()
        p.setId(pid)
        p.setConstant(False)
        rule = self.model.createAssignmentRule()
        rule.setVariable(pid)
        _check(rule.setMath(_parse(formula)), pid)

    def event(self, eid: str, at: str, assignments: dict[str, str]) -> None:
        """An event at time `at` (a formula): persistent trigger `time >= at`, values from the
        trigger time, no delay; `assignments` maps variables to formulas."""
        e = self.model.createEvent()
        _check(e.setId(eid), eid)
        _check(e.setUseValuesFromTriggerTime(True), eid)
        trig = e.createTrigger()
        trig.setInitialValue(False)
        trig.setPersistent(True)
        _check(trig.setMath(_parse(f"time >= {at}")), eid)
        for variable, formula in assignments.items():
            a = e.createEventAssignment()
            _check(a.setVariable(variable), f"{eid}: {variable}")
            _check(a.setMath(_parse(formula)), f"{eid}: {variable}")


def _parse(formula: str):
    ast = libsbml.parseL3Formula(formula)
    if ast is None:
        raise SbmlExportError(f"SBML export: cannot parse {formula!r}: {libsbml.getLastParseL3Error()}")
    return ast


def element_parameters(s, prefix: str, t_dose: float) -> dict[str, float]:
    """SBML parameter ids and values of one element (one coating class x dose) of a batch-of-one system."""
    r = s.rates()
    v = {"k_deg": float(s.k_deg[0]), "k_deg_pc": float(s.k_deg_pc[0]), "t_dose": float(t_dose), "k_ven_out": float(r.ven_out[0]),
         "k_out_lung": float(r.q_out[wb.LUNG, 0]), "k_urine": float(r.excrete_cap[wb.KIDNEY, 0]),
         "k_bile": float(r.excrete_tis[wb.LIVER, 0]), "lab_blood_factor": float(r.lab_blood[0])}
    for j, o in enumerate(wb.ORGANS):
        if o != "lung":
            v[f"k_in_{o}"] = float(r.inflow_art[j, 0])
            v[f"k_out_{o}"] = float(r.q_out[j, 0])
        v[f"k_ct_{o}"] = float(r.pa_cap[j, 0])
        v[f"k_tc_{o}"] = float(r.pa_tis[j, 0])
        v[f"kmax_{o}"] = float(s.kmax_cap[j, 0] + s.kmax_tis[j, 0])
        v[f"k50_{o}"] = float(s.k50[j, 0])
        v[f"hill_{o}"] = float(s.hill[j, 0])
        v[f"krel_{o}"] = float(s.krel_cap[j, 0] + s.krel_tis[j, 0])
    v["perm_start"], v["perm_end"], v["perm_factor"] = float(s.perm_start[0]), float(s.perm_end[0]), float(s.perm_factor[0])
    return {prefix + k: val for k, val in v.items()}


def _dose_amounts(s, prefix: str, weight: float, organs) -> dict[str, float]:
    """One dose (weighted by its coating class and its amount / the first dose's) mixed through the
    circulating blood (whole_body)."""
    x0 = wb.initial_state(s)[:, 0] * weight
    amounts = {prefix + "arterial": x0[wb.ART], prefix + "venous": x0[wb.VEN]}
    for j, o in enumerate(wb.ORGANS):
        if o in organs:
            amounts[f"{prefix}{o}_cap"] = x0[wb.CAP0 + j]
    return {k: float(v) for k, v in amounts.items()}


def model_values(f: Formulation) -> tuple[dict[str, float], dict[str, float]]:
    """(constant parameter values, initial amounts) of the SBML model of `f`, by id: what a design
    changes when one loaded model is reused for many designs of the same structure (same organs,
    coating classes, dose count, and heat window present or not). What events set (e{n}_clock_start,
    e{n}_tumor_perm) needs no value here: the events set it again in every run."""
    system, weights, t_dose = particle_systems(_resolved_with_therapy(f))
    organs = [o for o in wb.ORGANS if o != "tumor" or f.subject.tumor is not None]
    params, init = {}, {}
    for e in range(system.batch_size):
        p = f"e{e + 1}_"
        s = system.take(np.array([e]))
        params.update(element_parameters(s, p, float(t_dose[e])))
        doses = _dose_amounts(s, p, float(weights[e]), organs)
        init.update({k: (v if t_dose[e] == 0 else 0.0) for k, v in doses.items()})
        if t_dose[e] > 0:
            params.update({_bolus_id(p, k): v for k, v in doses.items()})
    return params, init


def _bolus_id(prefix: str, species: str) -> str:
    """Parameter holding the amount a later dose adds to `species` (e.g. e2_bolus_arterial)."""
    return prefix + "bolus_" + species[len(prefix):]


def refuse_oxygen_therapies(f: Formulation) -> None:
    """Sonodynamic therapy, glucose oxidase and hypoxia-activated prodrugs act through the tumor oxygen
    state (model/therapy/oxygen.py), computed after the particle model: no SBML form."""
    from nanocloak.library import tables as library
    from nanocloak.model.therapy import oxygen, sonodynamic

    drugs = [p.drug for p in f.payloads]
    if f.treatment.ultrasound and any(sonodynamic.is_sonosensitiser(d) for d in drugs):
        raise SbmlExportError("treatment.ultrasound: sonodynamic therapy (ROS from the ultrasound a sonosensitiser "
                              "payload absorbs, model/therapy/sonodynamic.py) has no SBML form; export without the "
                              "ultrasound or the sonosensitiser, or use `nanocloak simulate` (docs/therapy.md)")
    for d in drugs:
        if d == oxygen.GOX or "hypoxia_activation" in library.entry("drugs", d):
            raise SbmlExportError(f"payloads: {d} acts through the tumor oxygen state (glucose oxidase starvation, "
                                  "hypoxia-activated prodrugs; model/therapy/oxygen.py), which has no SBML form; "
                                  "export without it, or use `nanocloak simulate` (docs/therapy.md)")


def refuse_immune_agents(f: Formulation) -> None:
    """The immune arm (model/therapy/immune.py: NK, effector T and M1/M2 macrophage states driven by the
    grown tumor, computed after the particle model) has no SBML form."""
    from nanocloak.model.therapy import immune

    if f.subject.tumor is None or not immune.has_immune_agent(f):
        return
    drugs = [p.drug for p in f.payloads if immune.immune_action(p.drug)]
    what = f"payloads: {', '.join(drugs)}" if drugs else "surface.membrane: the membrane coat"
    raise SbmlExportError(f"{what} acts through the immune arm (NK, effector T cells and M1/M2 tumor macrophages driven by "
                          "the grown tumor, model/therapy/immune.py), which has no SBML form; export without the immune "
                          "agent, or use `nanocloak simulate` (docs/immune.md)")


def _resolved_with_therapy(f: Formulation):
    """Resolution including what the therapy chain decides (heat-opened tumor vessels)."""
    if f.core.is_free_drug:
        raise SbmlExportError("core.material: free drug has no particle model, and the SBML export carries the "
                              "particle model only (particle disposition); `nanocloak simulate` runs the free-drug "
                              "PBPK")
    if f.dose.route != "iv":
        raise SbmlExportError(f"dose.route: {f.dose.route} is not exported to SBML (the export starts each dose "
                              "mixed in the blood; the route's depot, docs/routes.md, has no SBML form yet); "
                              "export the iv design, or use `nanocloak simulate`")
    tumor = f.subject.tumor
    if tumor is not None and tumor.metastases is not None and tumor.metastases.lung:
        raise SbmlExportError("subject.tumor.metastases: the lung-metastasis estimate (circulating tumor cells, their "
                              "capture by the coat) is computed after the particle model and has no SBML form; "
                              "export without metastases (bbb and post_surgical are exported as the tumor's PATC "
                              "and KTRESmax), or use `nanocloak simulate` (docs/brain_metastasis.md)")
    if getattr(f.treatment, "magnets", None):
        raise SbmlExportError("treatment.magnets: magnetic targeting (a one-way capture window from the tumor's "
                              "capillary blood, model/magnetic.py) has no SBML form yet; export without the magnet, "
                              "or use `nanocloak simulate` (docs/magnetic.md)")
    refuse_oxygen_therapies(f)
    refuse_immune_agents(f)
    r = resolve(f)
    if f.treatment.lasers and f.subject.tumor is not None:
        from nanocloak.simulation.core import simulate

        r.heat_windows = simulate(f).resolved.heat_windows
    return r


def to_sbml(f: Formulation) -> str:
    """The SBML document (text) for a formulation."""
    r = _resolved_with_therapy(f)
    system, weights, t_dose = particle_systems(r)
    b = _Builder(f.name)
    _check(b.model.setNotes(NOTES), "notes")
    has_tumor = f.subject.tumor is not None
    organs = [o for o in wb.ORGANS if o != "tumor" or has_tumor]
    copies = []
    for e in range(system.batch_size):
        s = system.take(np.array([e]))
        p = f"e{e + 1}_"
        values = element_parameters(s, p, float(t_dose[e]))
        for pid, val in values.items():
            b.parameter(pid, val)
        doses = _dose_amounts(s, p, float(weights[e]), organs)
        at_start = {k: (v if t_dose[e] == 0 else 0.0) for k, v in doses.items()}
        sid = {"art": b.species(p + "arterial", at_start[p + "arterial"]), "ven": b.species(p + "venous", at_start[p + "venous"])}
        for o in organs:
            for part in ("cap", "tis", "pc"):
                sid[f"{o}_{part}"] = b.species(f"{p}{o}_{part}", at_start.get(f"{p}{o}_{part}", 0.0))
        for acc in ("urine", "feces", "degraded"):
            sid[acc] = b.species(p + acc)
        # the copy's uptake clock: tau = abs(time - clock_start), clock_start set to the dose time by
        # the dose event (0 until then, over a copy that holds nothing)
        clock = b.parameter(p + "clock_start", 0.0, constant=False)
        if t_dose[e] > 0:
            bolus = {k: b.parameter(_bolus_id(p, k), v) for k, v in doses.items()}
            b.event(f"{p}dose", f"{p}t_dose", {**{k: f"{k} + {bolus[k]}" for k in doses}, clock: f"{p}t_dose"})
        perm = _heat_window(b, s, p, float(t_dose[e])) if has_tumor else None
        # circulation
        b.reaction(p + "venous_to_lung", sid["ven"], sid["lung_cap"], f"{p}k_ven_out * {sid['ven']}")
        b.reaction(p + "lung_to_arterial", sid["lung_cap"], sid["art"], f"{p}k_out_lung * {sid['lung_cap']}")
        for o in wb.ORGANS:
            if o not in organs:
                continue
            cap, tis, pc = sid[f"{o}_cap"], sid[f"{o}_tis"], sid[f"{o}_pc"]
            if o != "lung":
                b.reaction(f"{p}arterial_to_{o}", sid["art"], cap, f"{p}k_in_{o} * {sid['art']}")
                drain = sid["liver_cap"] if o == "spleen" else sid["ven"]
                b.reaction(f"{p}{o}_outflow", cap, drain, f"{p}k_out_{o} * {cap}")
            heat = f" * {perm}" if o == "tumor" and perm else ""   # heat-opened tumor vessels
            b.reaction(f"{p}{o}_to_tissue", cap, tis, f"{p}k_ct_{o}{heat} * {cap}")
            b.reaction(f"{p}{o}_from_tissue", tis, cap, f"{p}k_tc_{o}{heat} * {tis}")
            # Kupffer cells (liver) act on capillary blood, all other PCs on tissue (Lin 2016)
            src = cap if o == "liver" else tis
            tau = f"abs(time - {clock})"  # time since this copy's dose (see the module docstring for abs)
            b.reaction(f"{p}{o}_uptake", src, pc,
                       f"{p}kmax_{o} * pow({tau}, {p}hill_{o}) / (pow({p}k50_{o}, {p}hill_{o}) + pow({tau}, {p}hill_{o})) * {src}")
            b.reaction(f"{p}{o}_release", pc, src, f"{p}krel_{o} * {pc}")
        b.reaction(p + "urinary_excretion", sid["kidney_cap"], sid["urine"], f"{p}k_urine * {sid['kidney_cap']}")
        b.reaction(p + "biliary_excretion", sid["liver_tis"], sid["feces"], f"{p}k_bile * {sid['liver_tis']}")
        for key, species in sid.items():
            if key not in ("urine", "feces", "degraded"):
                rate = f"{p}k_deg_pc" if key.endswith("_pc") else f"{p}k_deg"
                b.reaction(f"{p}degrade_{key}", species, sid["degraded"], f"{rate} * {species}")
        copies.append((p, sid))
    _observables(b, copies, organs)
    if b.doc.checkInternalConsistency():
        raise NanocloakError("SBML export produced an inconsistent document: " + b.doc.getErrorLog().toString())
    return libsbml.writeSBMLToString(b.doc)


def _heat_window(b: _Builder, s, p: str, t_dose: float) -> str | None:
    """The tumor's exchange factor of one copy: perm_factor for perm_start <= time - t_dose <
    perm_end (whole_body.tumor_permeability_multiplier), 1 outside, switched by two events; None
    without a window."""
    start, end, factor = float(s.perm_start[0]), float(s.perm_end[0]), float(s.perm_factor[0])
    if factor == 1.0 or not end > start:
        return None
    opens_at_start = t_dose + start <= 0.0
    perm = b.ode_parameter(p + "tumor_perm", factor if opens_at_start else 1.0, "0")
    if not opens_at_start:
        b.event(p + "heat_on", f"{p}t_dose + {p}perm_start", {perm: f"{p}perm_factor"})
    b.event(p + "heat_off", f"{p}t_dose + {p}perm_end", {perm: "1"})
    return perm


def _observables(b: _Builder, copies, organs) -> None:
    def total(keys):
        return " + ".join(f"{sid[k]}" for _, sid in copies for k in keys)

    b.assignment("blood", total(["art", "ven"]))
    for o in organs:
        if o == "muscle":
            continue
        keys = [f"{o}_cap", f"{o}_tis", f"{o}_pc"]
        if o == "rest":
            keys += ["muscle_cap", "muscle_tis", "muscle_pc"]
        b.assignment(o, total(keys))
    b.assignment("excreted_urine", total(["urine"]))
    b.assignment("excreted_feces", total(["feces"]))
    b.assignment("degraded", total(["degraded"]))
    b.assignment("blood_sample", " + ".join(f"{p}lab_blood_factor * {sid['ven']}" for p, sid in copies))

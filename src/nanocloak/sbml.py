"""SBML Level 3 export of a formulation's particle model (python-libsbml), for COPASI, tellurium,
libRoadRunner.

Each (coating class, dose) of the formulation becomes its own copy of the state set (prefix
`e{n}_`), as in nanocloak itself: a dose arrives, mixed through the circulating blood, by an event
at its time (or as the initial amounts), and its uptake clock is `time - t_dose`. Species are amounts in %ID of one dose; the
compartment is a unit placeholder (hasOnlySubstanceUnits). Assignment rules give the spec's
partition (blood, organs, excreted, degraded) and the lab blood sample.
"""

from __future__ import annotations

import libsbml

from . import whole_body as wb
from .errors import NanocloakError
from .formulation import Formulation
from .parameters import particle_systems, resolve


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

    def parameter(self, pid: str, value: float) -> str:
        p = self.model.createParameter()
        _check(p.setId(pid), pid)
        p.setValue(float(value))
        p.setConstant(True)
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
        ast = libsbml.parseL3Formula(rate)
        if ast is None:
            raise NanocloakError(f"SBML export: cannot parse rate law {rate!r}")
        _check(law.setMath(ast), rid)

    def assignment(self, pid: str, formula: str) -> None:
        p = self.model.createParameter()
        p.setId(pid)
        p.setConstant(False)
        rule = self.model.createAssignmentRule()
        rule.setVariable(pid)
        _check(rule.setMath(libsbml.parseL3Formula(formula)), pid)

    def dose_event(self, eid: str, t_dose: float, amounts: dict[str, float]) -> None:
        e = self.model.createEvent()
        e.setId(eid)
        e.setUseValuesFromTriggerTime(True)
        trig = e.createTrigger()
        trig.setInitialValue(False)
        trig.setPersistent(True)
        trig.setMath(libsbml.parseL3Formula(f"time >= {t_dose!r}"))
        for species, amount in amounts.items():
            a = e.createEventAssignment()
            a.setVariable(species)
            a.setMath(libsbml.parseL3Formula(f"{species} + {amount!r}"))


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
    """One dose (weighted by its coating class) mixed through the circulating blood (whole_body)."""
    x0 = wb.initial_state(s)[:, 0] * weight
    amounts = {prefix + "arterial": x0[wb.ART], prefix + "venous": x0[wb.VEN]}
    for j, o in enumerate(wb.ORGANS):
        if o in organs:
            amounts[f"{prefix}{o}_cap"] = x0[wb.CAP0 + j]
    return {k: float(v) for k, v in amounts.items()}


def model_values(f: Formulation) -> tuple[dict[str, float], dict[str, float]]:
    """(parameter values, initial amounts) of the SBML model of `f`, by id: what a design changes
    when one loaded model is reused for many designs of the same structure."""
    system, weights, t_dose = particle_systems(_resolved_with_therapy(f))
    organs = [o for o in wb.ORGANS if o != "tumor" or f.subject.tumor is not None]
    params, init = {}, {}
    for e in range(system.batch_size):
        p = f"e{e + 1}_"
        s = system.take([e])
        params.update(element_parameters(s, p, float(t_dose[e])))
        doses = _dose_amounts(s, p, float(weights[e]), organs)
        init.update({k: (v if t_dose[e] == 0 else 0.0) for k, v in doses.items()})
    return params, init


def _resolved_with_therapy(f: Formulation):
    """Resolution including what the therapy chain decides (heat-opened tumor vessels)."""
    r = resolve(f)
    if f.treatment.lasers and f.subject.tumor is not None:
        from .simulation import simulate

        r.heat_windows = simulate(f).resolved.heat_windows
    return r


def to_sbml(f: Formulation) -> str:
    """The SBML document (text) for a formulation."""
    r = _resolved_with_therapy(f)
    system, weights, t_dose = particle_systems(r)
    b = _Builder(f.name)
    has_tumor = f.subject.tumor is not None
    organs = [o for o in wb.ORGANS if o != "tumor" or has_tumor]
    copies = []
    for e in range(system.batch_size):
        s = system.take([e])
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
        if t_dose[e] > 0:
            b.dose_event(f"{p}dose", float(t_dose[e]), doses)
        # circulation
        b.reaction(p + "venous_to_lung", sid["ven"], sid["lung_cap"], f"{p}k_ven_out * {sid['ven']}")
        b.reaction(p + "lung_to_arterial", sid["lung_cap"], sid["art"], f"{p}k_out_lung * {sid['lung_cap']}")
        for j, o in enumerate(wb.ORGANS):
            if o not in organs:
                continue
            cap, tis, pc = sid[f"{o}_cap"], sid[f"{o}_tis"], sid[f"{o}_pc"]
            if o != "lung":
                b.reaction(f"{p}arterial_to_{o}", sid["art"], cap, f"{p}k_in_{o} * {sid['art']}")
                drain = sid["liver_cap"] if o == "spleen" else sid["ven"]
                b.reaction(f"{p}{o}_outflow", cap, drain, f"{p}k_out_{o} * {cap}")
            heat = ""
            if o == "tumor":   # heat-opened vessels multiply the tumor's exchange inside the window
                window = f"time >= {p}t_dose + {p}perm_start && time < {p}t_dose + {p}perm_end"
                heat = f" * piecewise({p}perm_factor, {window}, 1)"
            b.reaction(f"{p}{o}_to_tissue", cap, tis, f"{p}k_ct_{o}{heat} * {cap}")
            b.reaction(f"{p}{o}_from_tissue", tis, cap, f"{p}k_tc_{o}{heat} * {tis}")
            # Kupffer cells (liver) act on capillary blood, all other PCs on tissue (Lin 2016)
            src = cap if o == "liver" else tis
            tau = f"piecewise(time - {p}t_dose, time > {p}t_dose, 0)"  # time since this dose, never negative
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

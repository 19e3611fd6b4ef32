"""The Design form: which formulation fields it shows, and the two-way mapping form <-> document.

The document is the formulation as a plain mapping (what the YAML view shows). The form holds a
fixed set of fields, each bound to one dotted path of the contract (`core.diameter_nm`,
`surface.membrane.sources[1].cell`); list entries the form has no slot for (a third membrane
source, a second laser, model.overrides) stay in the document untouched and are edited in YAML.

Rules (pure Python, no nanocloak import, unit-tested):
- an empty field means "absent" (the contract's default applies);
- a list entry (a membrane source, a ligand, the payload, a trigger, a laser) exists while its key
  field (cell, name, drug, kind, at_h) has a value;
- a group that does not apply (PEG fields unless surface.kind is peg, the membrane unless it is
  membrane, the particle fields of a free drug) is removed from the document and hidden, so that
  switching a choice never leaves a block behind that the validator would refuse.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any, Callable

Token = str | int
PATH_TOKEN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)")


def parse_path(path: str) -> list[Token]:
    """'surface.membrane.sources[0].cell' -> ['surface', 'membrane', 'sources', 0, 'cell']."""
    tokens: list[Token] = []
    if not path:
        return tokens
    for part in path.split("."):
        m = PATH_TOKEN.fullmatch(part)
        if m is None:
            raise ValueError(f"bad path part {part!r} in {path!r}")
        tokens.append(m.group(1))
        tokens.extend(int(i) for i in re.findall(r"\[(\d+)\]", m.group(2)))
    return tokens


def render_path(tokens: list[Token]) -> str:
    out = ""
    for t in tokens:
        out += f"[{t}]" if isinstance(t, int) else (f".{t}" if out else t)
    return out


def get_path(doc: Any, tokens: list[Token], default: Any = None) -> Any:
    node = doc
    for t in tokens:
        if isinstance(t, int):
            if not isinstance(node, list) or t >= len(node):
                return default
        elif not isinstance(node, dict) or t not in node:
            return default
        node = node[t]
    return node


def set_path(doc: dict, tokens: list[Token], value: Any) -> None:
    """Set, creating mappings and list entries on the way (a list is padded with empty mappings)."""
    node: Any = doc
    for here, nxt in zip(tokens[:-1], tokens[1:]):
        empty: Any = [] if isinstance(nxt, int) else {}
        if isinstance(here, int):
            while len(node) <= here:
                node.append({})
            if not isinstance(node[here], (dict, list)) or (isinstance(nxt, int) != isinstance(node[here], list)):
                node[here] = empty
            node = node[here]
        else:
            child = node.get(here)
            if not isinstance(child, (dict, list)) or (isinstance(nxt, int) != isinstance(child, list)):
                node[here] = empty
            node = node[here]
    last = tokens[-1]
    if isinstance(last, int):
        while len(node) <= last:
            node.append({})
        node[last] = value
    else:
        node[last] = value


def delete_path(doc: dict, tokens: list[Token]) -> None:
    """Remove the key or list entry at `tokens` (nothing if absent), then prune emptied parents."""
    parent = get_path(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(last, int):
        if isinstance(parent, list) and last < len(parent):
            parent.pop(last)
    elif isinstance(parent, dict):
        parent.pop(last, None)
    _prune(doc, tokens[:-1])


def _prune(doc: dict, tokens: list[Token]) -> None:
    """Drop mappings and lists left empty along `tokens` (deepest first; never the top level)."""
    for depth in range(len(tokens), 0, -1):
        node = get_path(doc, tokens[:depth])
        if isinstance(node, (dict, list)) and not node:
            parent = get_path(doc, tokens[: depth - 1])
            last = tokens[depth - 1]
            if isinstance(parent, list) and isinstance(last, int):
                parent.pop(last)
            elif isinstance(parent, dict):
                parent.pop(last, None)
        else:
            break


# ---------------------------------------------------------------------------------------------
# field values: text in the form, typed values in the document
# ---------------------------------------------------------------------------------------------
def parse_number(text: Any) -> Any:
    """'70' -> 70, '0.5' -> 0.5, '' -> None; other text ('0.07 um', 'abc') is kept for the validator,
    which converts units and names the field when it is not a number."""
    if text is None:
        return None
    if isinstance(text, bool):
        return text
    if isinstance(text, (int, float)):
        return text
    s = str(text).strip()
    if not s:
        return None
    try:
        return int(s)
    except ValueError:
        pass
    try:
        return float(s)
    except ValueError:
        return s


def parse_number_list(text: Any) -> Any:
    if text is None:
        return None
    if isinstance(text, list):
        return text
    s = str(text).strip().strip("[]")
    if not s:
        return None
    return [parse_number(p) for p in re.split(r"[,;\s]+", s) if p]


def format_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_fmt_scalar(v) for v in value)
    return _fmt_scalar(value)


def _fmt_scalar(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:.12g}"
    return str(v)


# ---------------------------------------------------------------------------------------------
# the form
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Field:
    path: str
    label: str
    unit: str = ""
    kind: str = "number"           # number | text | select | numlist
    options: str | tuple = ""      # a library kind (backend.choices) or fixed values
    group: str = ""
    placeholder: str = "default"
    help: str = ""

    @property
    def tokens(self) -> list[Token]:
        return parse_path(self.path)

    def parse(self, raw: Any) -> Any:
        if self.kind == "number":
            return parse_number(raw)
        if self.kind == "numlist":
            return parse_number_list(raw)
        if raw is None:
            return None
        s = str(raw).strip()
        return s or None


@dataclass(frozen=True)
class Group:
    id: str
    title: str
    root: str = ""                  # removed from the document when the group does not apply
    active: Callable[[dict], bool] | None = None   # given the field values (path -> raw)
    note: str = ""


@dataclass(frozen=True)
class Item:
    """A list entry the form has a slot for: present while `key` has a value."""

    path: str                       # e.g. surface.membrane.sources[1]
    key: str                        # e.g. surface.membrane.sources[1].cell


def _v(values: dict, path: str) -> Any:
    raw = values.get(path)
    return None if raw is None or (isinstance(raw, str) and not raw.strip()) else (raw.strip().lower() if isinstance(raw, str) else raw)


SRC = "surface.membrane.sources"
PAY = "payloads[0]"
REL = "payloads[0].release"
TUM = "subject.tumor"
LAS = "treatment.lasers[0]"
US = "treatment.ultrasound[0]"
MAG = "treatment.magnets[0]"

GROUPS: tuple[Group, ...] = (
    Group("general", "Formulation"),
    Group("core", "Core particle"),
    Group("particle", "", active=lambda v: _v(v, "core.material") != "free",
          note="a free drug (material: free) has no particle: size, shape and surface do not apply"),
    Group("surface", "Surface", active=lambda v: _v(v, "core.material") != "free"),
    Group("peg", "PEG layer", root="surface.peg", active=lambda v: _v(v, "surface.kind") == "peg"),
    Group("membrane", "Cell membrane", root="surface.membrane", active=lambda v: _v(v, "surface.kind") == "membrane"),
    Group("ligand", "Ligand (optional)"),
    Group("payload", "Drug payload (optional)"),
    Group("release", "Release in buffer (pH 7.4, 37 C)", active=lambda v: _v(v, f"{PAY}.drug") is not None),
    Group("dose", "Dose"),
    Group("subject", "Animal"),
    Group("tumor", "Tumor (optional: leave the line empty for no tumor)"),
    Group("treatment", "Treatment (optional)"),
    Group("simulate", "Model and simulation"),
)

FIELDS: tuple[Field, ...] = (
    Field("name", "name", kind="text", group="general", placeholder="required"),
    Field("core.material", "material", kind="select", options="materials", group="core", placeholder="required"),
    Field("core.diameter_nm", "diameter", "nm", group="particle", placeholder="required (1..1000)",
          help="bare core; for rods the width; a unit may be written, e.g. 0.07 um"),
    Field("core.shape", "shape", kind="select", options=("sphere", "rod", "cage", "shell", "sheet"), group="particle",
          placeholder="the material's usual shape"),
    Field("core.aspect_ratio", "aspect ratio", "-", group="particle", placeholder="rods only"),
    Field("core.zeta_mV", "zeta (bare core)", "mV", group="particle", placeholder="from the material"),
    Field("core.density_g_per_cm3", "density", "g/cm3", group="particle", placeholder="from the material"),
    Field("core.magnetic_fraction", "magnetite volume fraction", "-", group="particle",
          placeholder="magnetic cores: 1 up to 20 nm, else 0.3 (assumed)",
          help="the part of a magnetic core's volume that is magnetite (multi-core clusters; docs/magnetic.md)"),
    Field("core.magnetic_crystal_nm", "magnetic crystal", "nm", group="particle",
          placeholder="magnetic cores: the core up to 20 nm, else 15",
          help="one superparamagnetic crystal inside a magnetic cluster (docs/magnetic.md)"),
    Field("surface.kind", "surface", kind="select", options=("none", "peg", "membrane"), group="surface",
          placeholder="none (bare core)"),
    Field("surface.peg.mw_kDa", "PEG molecular weight", "kDa", group="peg", placeholder="2"),
    Field(f"{SRC}[0].cell", "membrane source", kind="select", options="membranes", group="membrane", placeholder="required"),
    Field(f"{SRC}[0].fraction", "fraction", "-", group="membrane", placeholder="1 (single source)",
          help="hybrid: fractions by membrane protein mass, sum 1"),
    Field(f"{SRC}[0].line", "source cell line", kind="select", options="cell_lines", group="membrane",
          placeholder="cancer membranes only"),
    Field(f"{SRC}[0].donor", "donor", kind="select", options=("syngeneic", "allogeneic", "xenogeneic"), group="membrane",
          placeholder="syngeneic"),
    Field(f"{SRC}[1].cell", "second source (hybrid)", kind="select", options="membranes", group="membrane",
          placeholder="none"),
    Field(f"{SRC}[1].fraction", "its fraction", "-", group="membrane", placeholder="required for a hybrid"),
    Field(f"{SRC}[1].line", "its cell line", kind="select", options="cell_lines", group="membrane",
          placeholder="cancer membranes only"),
    Field(f"{SRC}[1].donor", "its donor", kind="select", options=("syngeneic", "allogeneic", "xenogeneic"),
          group="membrane", placeholder="syngeneic"),
    Field("surface.membrane.method", "coating method", kind="select", options="coating_methods", group="membrane",
          placeholder="coextrusion"),
    Field("surface.membrane.membrane_to_core_mass_ratio", "membrane : core", "mg/mg", group="membrane",
          placeholder="the method's usual input"),
    Field("surface.membrane.storage", "storage", kind="select", options=("fresh", "4c", "-80c", "lyophilized"),
          group="membrane", placeholder="fresh"),
    Field("surface.membrane.storage_days", "stored for", "days", group="membrane", placeholder="0"),
    Field("surface.ligands[0].name", "ligand", kind="select", options="ligands", group="ligand", placeholder="none"),
    Field("surface.ligands[0].per_particle", "ligands per particle", "/particle", group="ligand", placeholder="required"),
    Field(f"{PAY}.drug", "drug", kind="select", options="drugs", group="payload", placeholder="none (tracer)"),
    Field(f"{PAY}.loading_wt_pct", "loading", "wt%", group="payload", placeholder="required",
          help="drug / (drug + core mass) x 100"),
    Field(f"{REL}.model", "release model", kind="select", options="release_models", group="release",
          placeholder="none (no release law)"),
    Field(f"{REL}.triggers[0].kind", "trigger", kind="select",
          options=("ph", "nir", "hyperthermia", "ros", "gsh", "enzyme", "ultrasound"), group="release", placeholder="none"),
    Field(f"{REL}.triggers[0].threshold", "trigger threshold", "pH / C / x normal", group="release",
          placeholder="ph, hyperthermia, ros, gsh, enzyme"),
    Field(f"{REL}.triggers[0].factor", "trigger factor", "x rate", group="release", placeholder="required"),
    Field("dose.basis", "dose counts", kind="select", options=("particle", "drug"), group="dose",
          placeholder="particle (core mass)"),
    Field("dose.mg_per_kg", "dose", "mg/kg", group="dose", placeholder="required"),
    Field("dose.times_h", "dose times", "h", kind="numlist", group="dose", placeholder="0", help="dose times, e.g. 0, 72"),
    *(field for i in range(3) for field in (
        Field(f"dose.schedule[{i}].at_h", f"unequal dose {i + 1}: at", "h", group="dose", placeholder="optional",
              help="a dose.schedule (docs/spec.md): each dose its own time and amount; leave empty for equal doses"),
        Field(f"dose.schedule[{i}].mg_per_kg", f"unequal dose {i + 1}: amount", "mg/kg", group="dose",
              placeholder="optional"))),
    Field("dose.route", "route", kind="select", options=("iv", "intratumoral", "intraperitoneal", "subcutaneous"),
          group="dose", placeholder="iv", help="where the dose goes in (docs/routes.md); intratumoral needs a tumor"),
    Field("subject.species", "species", kind="select", options="species", group="subject", placeholder="mouse"),
    Field("subject.body_weight_g", "body weight", "g", group="subject", placeholder="from the species"),
    Field("subject.host", "host", kind="select", options=("immunocompetent", "nude", "scid"), group="subject",
          placeholder="from the tumor model"),
    Field(f"{TUM}.line", "tumor cell line", kind="select", options="cell_lines", group="tumor", placeholder="no tumor"),
    Field(f"{TUM}.type", "cancer type", kind="select", options="cancer_types", group="tumor", placeholder="from the line"),
    Field(f"{TUM}.site", "site", kind="select", options=("subcutaneous", "orthotopic", "brain", "lung_metastasis"),
          group="tumor", placeholder="subcutaneous"),
    Field(f"{TUM}.model", "tumor model", kind="select", options=("allograft", "xenograft"), group="tumor",
          placeholder="from line and species"),
    Field(f"{TUM}.volume_mm3", "volume at first dose", "mm3", group="tumor", placeholder="100"),
    Field(f"{TUM}.bbb", "blood-brain barrier", kind="select", options=("intact", "disrupted"), group="tumor",
          placeholder="brain tumors: disrupted", help="brain tumors only (docs/brain_metastasis.md)"),
    Field(f"{TUM}.post_surgical", "resected, inflamed", kind="select", options=("false", "true"), group="tumor",
          placeholder="false", help="brain tumors only: neutrophil membranes are drawn in"),
    Field(f"{TUM}.metastases.lung", "lung metastases", kind="select", options=("false", "true"), group="tumor",
          placeholder="not estimated", help="estimate CTC-seeded lung metastases (assumptions listed)"),
    Field(f"{LAS}.at_h", "laser at", "h", group="treatment", placeholder="no laser"),
    Field(f"{LAS}.wavelength_nm", "wavelength", "nm", group="treatment", placeholder="required with a laser"),
    Field(f"{LAS}.power_W_per_cm2", "power density", "W/cm2", group="treatment", placeholder="required with a laser"),
    Field(f"{LAS}.duration_min", "duration", "min", group="treatment", placeholder="required with a laser"),
    Field(f"{US}.at_h", "ultrasound at", "h", group="treatment", placeholder="no ultrasound"),
    Field(f"{US}.duration_min", "ultrasound duration", "min", group="treatment", placeholder="required with ultrasound"),
    Field(f"{US}.intensity_W_per_cm2", "ultrasound intensity", "W/cm2", group="treatment", placeholder="1"),
    Field(f"{US}.frequency_MHz", "ultrasound frequency", "MHz", group="treatment", placeholder="1"),
    Field(f"{MAG}.at_h", "magnet at", "h", group="treatment", placeholder="no magnet",
          help="a magnet over the tumor pulls magnetic cores (iron oxide) out of its blood (docs/magnetic.md)"),
    Field(f"{MAG}.duration_min", "magnet duration", "min", group="treatment", placeholder="required with a magnet"),
    Field(f"{MAG}.field_T", "magnet field at the tumor", "T", group="treatment", placeholder="required with a magnet"),
    Field(f"{MAG}.gradient_T_per_m", "field gradient at the tumor", "T/m", group="treatment",
          placeholder="required with a magnet"),
    Field("model.tumor_parameters", "tumor parameters", kind="select", options=("library", "learned"), group="simulate",
          placeholder="library"),
    Field("simulate.end_h", "simulate until", "h", group="simulate", placeholder="168"),
    Field("simulate.output_times_h", "extra output times", "h", kind="numlist", group="simulate", placeholder="none"),
)

FIELD_BY_PATH = {f.path: f for f in FIELDS}
GROUP_BY_ID = {g.id: g for g in GROUPS}

#: list entries the form has slots for, deepest and last first (removal order)
ITEMS: tuple[Item, ...] = (
    Item(f"{REL}.triggers[0]", f"{REL}.triggers[0].kind"),
    Item(f"{REL}", f"{REL}.model"),
    Item(f"{SRC}[1]", f"{SRC}[1].cell"),
    Item(f"{SRC}[0]", f"{SRC}[0].cell"),
    Item("surface.ligands[0]", "surface.ligands[0].name"),
    Item(PAY, f"{PAY}.drug"),
    Item(TUM, f"{TUM}.line"),
    Item(LAS, f"{LAS}.at_h"),
    Item(US, f"{US}.at_h"),
    Item(MAG, f"{MAG}.at_h"),
)

#: release-law parameter slots (the most parameters a release model takes is 4)
N_PARAM_SLOTS = 4
PARAMS_PATH = f"{REL}.params"


#: a group applies only where its enclosing group does (no membrane fields on a free drug)
PARENT_GROUP = {"peg": "surface", "membrane": "surface", "ligand": "surface"}


def group_active(group_id: str, values: dict) -> bool:
    g = GROUP_BY_ID[group_id]
    if g.active is not None and not g.active(values):
        return False
    parent = PARENT_GROUP.get(group_id)
    return group_active(parent, values) if parent else True


def doc_to_values(doc: dict) -> dict[str, Any]:
    """Field path -> the text the form shows."""
    return {f.path: format_value(get_path(doc, f.tokens)) for f in FIELDS}


def param_values(doc: dict, names: list[str]) -> list[Any]:
    params = get_path(doc, parse_path(PARAMS_PATH)) or {}
    if not isinstance(params, dict):
        params = {}
    out = [format_value(params.get(n)) for n in names]
    return out + [""] * (N_PARAM_SLOTS - len(out))


def values_to_doc(values: dict[str, Any], doc: dict, param_names: list[str] | None = None,
                  param_raw: list[Any] | None = None) -> dict:
    """The document with the form's values written in (fields the form lacks are kept)."""
    doc = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    doc.setdefault("nanocloak", 1)
    # 1. every field: written, or removed when empty or its group does not apply
    for f in FIELDS:
        value = f.parse(values.get(f.path))
        if value is None or not group_active(f.group, values):
            delete_path(doc, f.tokens)
        else:
            set_path(doc, f.tokens, value)
    # 2. release parameters, named by the chosen model
    if param_names is not None and _v(values, f"{REL}.model") is not None and group_active("release", values):
        raw = list(param_raw or [])
        params = {n: parse_number(raw[i]) for i, n in enumerate(param_names) if i < len(raw) and parse_number(raw[i]) is not None}
        set_path(doc, parse_path(PARAMS_PATH), params)
    # 3. list entries whose key field is empty, and groups that do not apply
    for item in ITEMS:
        if _v(values, item.key) is None:
            delete_path(doc, parse_path(item.path))
    for g in GROUPS:
        if g.root and not group_active(g.id, values):
            delete_path(doc, parse_path(g.root))
    if _v(values, "core.material") == "free":
        for key in ("surface",):
            delete_path(doc, [key])
    return doc


# ---------------------------------------------------------------------------------------------
# where a validation message belongs
# ---------------------------------------------------------------------------------------------
LEADING_PATH = re.compile(r"^([A-Za-z_]\w*(?:\[\d+\])*(?:\.[A-Za-z_]\w*(?:\[\d+\])*)*)(?=[:\s]|$)")


def _is_known(path: str) -> bool:
    return path in FIELD_BY_PATH or path == PARAMS_PATH or any(p.startswith(path + ".") or p.startswith(path + "[")
                                                              for p in FIELD_BY_PATH)


def place_problem(path: str, message: str) -> tuple[str, str]:
    """('field', path) | ('params', PARAMS_PATH) | ('group', group id) | ('general', '') for a problem.

    A model-level message often starts with the relative path it is about ('tumor.type: ...' on
    `subject`, 'sources[0].fraction is required' on `surface.membrane`); that path is used when it
    names a field of the form."""
    candidates = [path]
    m = LEADING_PATH.match(message or "")
    if m:
        rel = m.group(1)
        joined = f"{path}.{rel}" if path else rel
        if _is_known(joined):
            candidates.insert(0, joined)
        elif _is_known(rel):
            candidates.insert(0, rel)
    for p in candidates:
        if p in FIELD_BY_PATH:
            return "field", p
        if p == PARAMS_PATH or p.startswith(PARAMS_PATH + "."):
            return "params", PARAMS_PATH
        for f in FIELDS:                     # deeper than a field: dose.times_h[1] is dose.times_h's
            if p.startswith(f.path + "[") or p.startswith(f.path + "."):
                return "field", f.path
    for p in candidates:
        try:
            tokens = parse_path(p)
        except ValueError:
            continue
        while tokens:                        # the group of the nearest enclosing block the form shows
            q = render_path(tokens)
            enclosed = [f for f in FIELDS if f.path.startswith(q + ".") or f.path.startswith(q + "[")]
            if enclosed:
                return "group", enclosed[0].group
            tokens = tokens[:-1]
    return "general", ""

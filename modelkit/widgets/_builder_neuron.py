"""The BuilderPanel's forms for NEURON: biophysical cells from a components folder, and their synapses.

A components folder in bmtk's layout holds ``biophysical_neuron_templates/`` (Allen Cell Types fits,
``*.json``: ``passive``, ``genome``, ``conditions``; NeuroML cells, ``*.nml``; either directly or one folder
down, as ``ctdb/`` and ``nml/``), ``morphologies/*.swc``, ``synaptic_models/*.json`` (``tau1``, ``tau2``,
``erev``) and ``mechanisms/``. :class:`BioCellForm` offers its templates and morphologies and shows the
chosen fit's values (``ra``, ``cm`` and ``e_pas``, each section's ``gbar``/``g_pas``, ``ena``/``ek``) as a
form; :class:`BioSynapseForm` does the same for a synaptic model, with ``target_sections`` and
``distance_range``. Values changed in a form reach NEURON in memory: the generated code loads the file,
edits the copy and passes the dict as ``dynamics_params`` (the NEURON backend reads an inline fit or
synaptic model as it reads the file). Only JSON is read here: the kernel never imports NEURON.
"""

from __future__ import annotations

import json
import os
from typing import Any

from modelkit.widgets._builder_forms import ParamGrid
from modelkit.widgets._deps import require

ipw = require("ipywidgets")

__all__ = ["BioCellForm", "BioSynapseForm", "components_config", "bio_sign_warning", "SECTIONS",
           "BIO_WEIGHT", "SYNAPSE_TEMPLATES"]

#: bmtk's target_sections names offered for synapses onto biophysical cells
SECTIONS = ("somatic", "basal", "apical", "axonal")
#: bmtk's built-in synapse models (an edge's ``model_template`` onto biophysical cells); a point process of the
#: mechanisms folder may be typed in the code instead
SYNAPSE_TEMPLATES = ("exp2syn", "expsyn", "exp1syn", "exp1isyn", "stp2syn", "stp5syn", "tmgsyn")
#: µS: the default weight of an edge onto biophysical cells (NEURON's Exp2Syn conductance), as bmtk's examples
BIO_WEIGHT = 0.0005
_SECTION_NAMES = ("soma", "axon", "dend", "apic")
_TEMPLATES, _MORPHOLOGIES, _SYNAPSES = "biophysical_neuron_templates", "morphologies", "synaptic_models"


def _files(folder: str, ends: tuple[str, ...], depth: int = 1) -> list[str]:
    """Files of ``folder`` ending in ``ends`` (and of its subfolders, ``depth`` levels down), relative, sorted."""
    if not os.path.isdir(folder):
        return []
    out = []
    for entry in sorted(os.listdir(folder)):
        path = os.path.join(folder, entry)
        if os.path.isdir(path) and depth > 0:
            out += [f"{entry}/{f}" for f in _files(path, ends, depth - 1)]
        elif entry.endswith(ends) and os.path.isfile(path):
            out.append(entry)
    return out


def components_config(folder: str) -> dict[str, str]:
    """The ``components`` block of a simulation config for a components folder in bmtk's layout.

    Parameters
    ----------
    folder : str
        The components folder (``biophysical_neuron_templates/``, ``morphologies/``, ...).

    Returns
    -------
    dict of str to str
        ``morphologies_dir``, ``biophysical_neuron_models_dir``, ``synaptic_models_dir``, ``mechanisms_dir``
        (absolute paths).
    """
    f = os.path.abspath(folder)
    return {"morphologies_dir": os.path.join(f, _MORPHOLOGIES),
            "biophysical_neuron_models_dir": os.path.join(f, _TEMPLATES),
            "synaptic_models_dir": os.path.join(f, _SYNAPSES), "mechanisms_dir": os.path.join(f, "mechanisms")}


def _unit(name: str) -> str:
    if name.startswith(("gbar", "g_pas")):
        return "S/cm²"
    return {"e_pas": "mV", "ena": "mV", "ek": "mV", "ra": "Ω·cm", "cm": "µF/cm²"}.get(name, "")


def fit_fields(fit: dict) -> tuple[dict[str, float], dict[str, tuple], dict[str, str]]:
    """The editable values of an Allen fit: ``(values, where each is in the JSON, units)``, keyed by a label.

    Parameters
    ----------
    fit : dict
        An Allen Cell Types fit (``passive``, ``genome``, ``conditions``).

    Returns
    -------
    tuple of dict
        Label (``e_pas``, ``cm soma``, ``soma gbar_NaTs``, ...) -> value; label -> the JSON path (keys and
        indices); label -> unit.
    """
    values: dict[str, float] = {}
    paths: dict[str, tuple] = {}

    def put(label: str, path: tuple, value: Any) -> None:
        try:
            x = float(value)
        except (TypeError, ValueError):
            return  # not a number: not a field (the file still goes to NEURON unchanged)
        while label in values:
            label += "'"
        values[label], paths[label] = x, path
    passive = fit.get("passive")
    if isinstance(passive, list) and passive and isinstance(passive[0], dict):
        p = passive[0]
        for k in ("e_pas", "ra"):
            if k in p:
                put(k, ("passive", 0, k), p[k])
        for i, c in enumerate(p.get("cm", []) if isinstance(p.get("cm"), list) else []):
            if isinstance(c, dict) and "cm" in c:
                put(f"cm {c.get('section')}", ("passive", 0, "cm", i, "cm"), c["cm"])
    for i, g in enumerate(fit.get("genome", []) if isinstance(fit.get("genome"), list) else []):
        if isinstance(g, dict) and g.get("section") in _SECTION_NAMES and "value" in g:
            put(f"{g['section']} {g.get('name')}", ("genome", i, "value"), g["value"])
    cond = fit.get("conditions")
    if isinstance(cond, list) and cond and isinstance(cond[0], dict):
        for i, e in enumerate(cond[0].get("erev", []) if isinstance(cond[0].get("erev"), list) else []):
            for k in ("ena", "ek"):
                if isinstance(e, dict) and k in e:
                    put(f"{e.get('section')} {k}", ("conditions", 0, "erev", i, k), e[k])
    units = {k: _unit(k.split(" ")[-1].rstrip("'") if " " in k else k) for k in values}
    units.update({k: _unit("cm") for k in values if k.startswith("cm ")})
    return values, paths, units


def _read(path: str) -> tuple[dict | None, str]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        return None, f"cannot read {path}: {type(e).__name__}: {e}"
    return (data, "") if isinstance(data, dict) else (None, f"{path}: not a JSON object")


def _edit_lines(var: str, path: str, edits: dict[str, tuple[tuple, float]]) -> list[str]:
    """Code that loads ``path`` into ``var`` and sets the edited values (a comment names each)."""
    lines = [f"{var} = json.loads(Path({path!r}).read_text())"]
    for label, (keys, value) in edits.items():
        idx = "".join(f"[{k!r}]" for k in keys)
        lines.append(f"{var}{idx} = {float(value)!r}  # {label}")
    return lines


class BioCellForm(ipw.VBox):
    """Template, morphology, processing and the fit's values of a biophysical population (NEURON).

    Parameters
    ----------
    components : str
        The components folder (bmtk's layout); '' until the user types one.
    """

    def __init__(self, components: str = "") -> None:
        style = {"description_width": "initial"}
        wrap = ipw.Layout(flex_flow="row wrap", width="100%")
        self.components = ipw.Text(value=components, description="components", style=style, continuous_update=False,
                                   placeholder="folder with biophysical_neuron_templates/, morphologies/",
                                   layout=ipw.Layout(width="calc(100% - 4px)"))  # the widget's 2 px margins
        self.template = ipw.Dropdown(description="template", style=style, layout=ipw.Layout(width="300px"))
        self.morphology = ipw.Dropdown(description="morphology", style=style, layout=ipw.Layout(width="300px"))
        self.processing = ipw.Dropdown(options=["aibs_perisomatic", "aibs_allactive"], description="processing",
                                       style=style, layout=ipw.Layout(width="260px"))
        for w, css in ((self.components, "components"), (self.template, "template"),
                       (self.morphology, "morphology"), (self.processing, "processing")):
            w.add_class(f"mk-builder-bio-{css}")
        self.params = ParamGrid("parameter file", "mk-builder-bio-params", cell="250px")
        self.fit: dict | None = None
        self.units: dict[str, str] = {}
        self._paths: dict[str, tuple] = {}
        super().__init__(children=[self.components, ipw.HBox([self.template, self.morphology], layout=wrap),
                                   self.processing, self.params], layout=ipw.Layout(width="100%"))
        self.add_class("mk-builder-bio")
        self.components.observe(lambda _c: self.scan(), "value")
        self.template.observe(lambda _c: self._template_changed(), "value")
        self.scan()

    @property
    def folder(self) -> str:
        """The components folder, absolute ('' if none is given)."""
        v = self.components.value.strip()
        return os.path.abspath(os.path.expanduser(v)) if v else ""

    def scan(self) -> None:
        """Offer the templates and morphologies of the components folder."""
        f = self.folder
        for w, opts in ((self.template, _files(os.path.join(f, _TEMPLATES), (".json", ".nml")) if f else []),
                        (self.morphology, _files(os.path.join(f, _MORPHOLOGIES), (".swc",), 0) if f else [])):
            keep = w.value
            w.options = opts
            # a Dropdown given options selects nothing: the first is chosen, as the browser shows it
            w.value = keep if keep in opts else (opts[0] if opts else None)
        self._template_changed()

    def _template_changed(self) -> None:
        t = self.template.value
        self.fit, self._paths = None, {}
        if not t:
            self.params.set_defaults({}, {}, "no templates: give a components folder in bmtk's layout"
                                     if not self.folder else f"no templates in {self.folder}/{_TEMPLATES}")
            return
        if t.endswith(".nml"):
            self.processing.disabled = True
            self.params.set_defaults({}, {}, f"NeuroML cell nml:{t}: NEURON reads its values from the file")
            return
        self.processing.disabled = False
        fit, err = _read(os.path.join(self.folder, _TEMPLATES, t))
        if fit is None:
            self.params.set_defaults({}, {}, err)
            return
        self.fit = fit
        p = fit.get("passive", [{}])[0] if isinstance(fit.get("passive"), list) and fit["passive"] else {}
        # a perisomatic fit sets ra, cm and e_pas in "passive"; an all-active one puts them in the genome
        self.processing.value = "aibs_perisomatic" if all(k in p for k in ("ra", "cm", "e_pas")) \
            else "aibs_allactive"
        values, self._paths, units = fit_fields(fit)
        # units in the note, not the labels: a field's label stays short enough to read ("soma gbar_Kv3_1")
        self.params.set_defaults(values, {}, f"{t}: changed values go into dynamics_params (in memory); "
                                 "g S/cm², cm µF/cm², ra Ω·cm, e_pas/ena/ek mV", origin="the file's value")
        self.units = units

    def node_code(self, var: str) -> tuple[list[str], list[str], str]:
        """``(lines before add_nodes, its keyword arguments, error)`` for the chosen template.

        Parameters
        ----------
        var : str
            The variable that holds an edited copy of the fit (only if a value was changed).
        """
        t, m = self.template.value, self.morphology.value
        if not t:
            return [], [], f"biophysical: no template chosen (components folder {self.folder or 'not given'})"
        if not m:
            return [], [], f"biophysical: no morphology (.swc) in {self.folder}/{_MORPHOLOGIES}"
        if t.endswith(".nml"):
            return [], [f"model_template={'nml:' + t!r}", f"morphology={m!r}"], ""
        props = ["model_template='ctdb:Biophys1.hoc'", f"model_processing={self.processing.value!r}",
                 f"morphology={m!r}"]
        changed = self.params.changed
        if not changed:
            return [], props + [f"dynamics_params={t!r}"], ""
        edits = {k: (self._paths[k], v) for k, v in changed.items()}
        lines = ["import json", "from pathlib import Path",
                 *_edit_lines(var, os.path.join(self.folder, _TEMPLATES, t), edits)]
        return lines, props + [f"dynamics_params={var}"], ""


def _pick(options: list[str], source_ei: str | None, target_ei: str | None) -> str | None:
    """The synaptic model a bmtk-style name suggests (``AMPA_ExcToInh``, ``GABA_InhToExc``), else the first."""
    if not options:
        return None
    kind = "GABA" if source_ei == "i" else "AMPA"
    to = {"e": "ToExc", "i": "ToInh"}.get(target_ei or "", "")
    for want in (f"{kind}_{'Inh' if source_ei == 'i' else 'Exc'}{to}", kind):
        hit = [o for o in options if o.startswith(want)]
        if hit:
            return hit[0]
    return options[0]


class BioSynapseForm(ipw.VBox):
    """Synaptic model (a JSON of ``components/synaptic_models``), its values, target sections and distances."""

    def __init__(self) -> None:
        style = {"description_width": "initial"}
        self.folder = ""
        self.model = ipw.Dropdown(description="synaptic model", style=style, layout=ipw.Layout(width="300px"))
        self.model.add_class("mk-builder-bio-synapse")
        self.template = ipw.Dropdown(options=SYNAPSE_TEMPLATES, value="exp2syn", description="model_template",
                                     style=style, layout=ipw.Layout(width="240px"))
        self.template.add_class("mk-builder-bio-syn-template")
        self.sections = ipw.SelectMultiple(options=list(SECTIONS), value=("somatic", "basal"), rows=4,
                                           description="target_sections", style=style,
                                           layout=ipw.Layout(width="260px"))
        self.sections.add_class("mk-builder-bio-sections")
        self.d_min = ipw.FloatText(value=0.0, description="distance from (µm)", style=style,
                                   layout=ipw.Layout(width="190px"))
        # bmtk's examples write 1e20 for "no limit"; 10 mm is past any dendrite and reads better in a field
        self.d_max = ipw.FloatText(value=1e4, description="to (µm)", style=style, layout=ipw.Layout(width="190px"))
        self.params = ParamGrid("synaptic model", "mk-builder-bio-syn-params")
        self.data: dict | None = None
        wrap = ipw.Layout(flex_flow="row wrap", width="100%")
        super().__init__(children=[ipw.HBox([self.model, self.template], layout=wrap),
                                   ipw.HBox([self.sections, ipw.VBox([self.d_min, self.d_max])], layout=wrap),
                                   self.params], layout=ipw.Layout(width="100%"))
        self.add_class("mk-builder-bio-syn")
        self.model.observe(lambda _c: self._model_changed(), "value")

    def scan(self, folder: str, source_ei: str | None = None, target_ei: str | None = None) -> None:
        """Offer the synaptic models of ``folder`` (a components folder); suggest one by the populations' ei."""
        self.folder = folder
        opts = _files(os.path.join(folder, _SYNAPSES), (".json",), 0) if folder else []
        keep = self.model.value
        self.model.options = opts
        self.model.value = _pick(opts, source_ei, target_ei)
        if self.model.value == keep:
            self._model_changed()

    def suggest(self, source_ei: str | None, target_ei: str | None) -> None:
        """Choose the synaptic model the populations' ``ei`` suggest (GABA from 'i', AMPA from 'e')."""
        self.model.value = _pick(list(self.model.options), source_ei, target_ei)

    def _model_changed(self) -> None:
        m = self.model.value
        self.data = None
        if not m:
            self.params.set_defaults({}, {}, "no synaptic models: give a components folder in bmtk's layout")
            return
        data, err = _read(os.path.join(self.folder, _SYNAPSES, m))
        self.data = data
        nums = {k: float(v) for k, v in (data or {}).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        units = {k: "mV" if k.startswith("e") else "ms" if k.startswith("tau") else "" for k in nums}
        level = (data or {}).get("level_of_detail", "exp2syn")
        # bmtk names the synapse by the file's level_of_detail where it is one of its built-in models
        self.template.value = level if level in SYNAPSE_TEMPLATES else "exp2syn"
        self.params.set_defaults(nums, units, err or f"{m} (level_of_detail {level}); changed values go into "
                                 "dynamics_params (in memory)", origin="the file's value")

    def edge_props(self) -> tuple[list[str], str]:
        """(keyword arguments of add_edges for NEURON, error)."""
        m = self.model.value
        if not m or self.data is None:
            where = self.folder or "not given"
            return [], f"edges onto biophysical cells: no synaptic model (components folder {where})"
        if not self.sections.value:
            return [], "edges onto biophysical cells: choose at least one of target_sections"
        changed = self.params.changed
        params = repr({**self.data, **changed}) if changed else repr(m)
        return [f"model_template={self.template.value!r}", f"dynamics_params={params}",
                f"target_sections={list(self.sections.value)!r}",
                f"distance_range={[float(self.d_min.value), float(self.d_max.value)]!r}"], ""


def bio_sign_warning(target: str, weight: float) -> str:
    """Why ``weight`` onto biophysical cells is wrong (NEURON's Exp2Syn takes its sign from ``erev``), or ''.

    Parameters
    ----------
    target : str
        The target's ``pop_name``.
    weight : float
        The edges' ``syn_weight`` (µS).

    Returns
    -------
    str
        A warning for the form ('' if none).
    """
    if weight < 0:
        return (f"{target!r} is biophysical: NEURON's Exp2Syn takes the sign of an input from the synaptic "
                f"model's erev (GABA files: -70 mV), and syn_weight={weight:g} would be a negative conductance; "
                f"weights onto biophysical cells are positive (µS)")
    return ""

"""The parameters a node or edge type's ``dynamics_params`` names, read as values.

A types table's ``dynamics_params`` column holds a file name (looked up in the circuit's ``components``
folder for the type's ``model_type``: ``point_neuron_models_dir``, ``synaptic_models_dir``, ...), an inline
JSON object or a Python dict literal (as builders write a dict property).  :func:`type_params` reads them
into one table, one row per type and one column per parameter; nested parameter files (bmtk's biophysical
``{"passive": [...], "genome": [{"section", "name", "value"}]}``) are flattened to dotted names
(``genome.soma.gbar_NaTs``).

Examples
--------
>>> net = Network.load("config.simulation.json")       # doctest: +SKIP
>>> type_params(net, "cortex")                          # doctest: +SKIP
              tau_m   C_m  ...
node_type_id
100            20.0  250.0 ...
"""

from __future__ import annotations

import ast
import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from modelkit.errors import ConfigError
from modelkit.sonata.textfile import MAX_JSON_BYTES, read_text

if TYPE_CHECKING:
    from modelkit.sonata.network import Network

__all__ = ["type_params", "read_params", "params_value", "flatten_params", "COMPONENT_DIRS"]

#: the ``components`` key whose folder holds a node type's ``dynamics_params`` file, by ``model_type``
#: (bmtk's folders; edge types use ``synaptic_models_dir``)
COMPONENT_DIRS = {"biophysical": "biophysical_neuron_models_dir", "point_process": "point_neuron_models_dir",
                  "point_neuron": "point_neuron_models_dir", "nrn_point_process": "point_neuron_models_dir",
                  "population": "population_models_dir", "filter": "filter_models_dir"}
EDGE_DIR = "synaptic_models_dir"


def params_value(value: Any, where: str) -> dict | str:
    """A ``dynamics_params`` value (a node or edge type's column) read as far as it goes without a directory:
    the parameters when it holds them, else the file name it gives.

    Every backend reads the column through this function (``modelkit.simulator.paramfiles`` re-exports it),
    and so does :func:`type_params`.

    Parameters
    ----------
    value : object
        The column's value: None or NaN (no parameters), a dict, an inline JSON object or Python dict literal
        (``"{...}"``, as bmtk's builder writes a dict property), or a file name.
    where : str
        Names the value in errors (file, population, node type, key).

    Returns
    -------
    dict or str
        A fresh dict of parameters, or the stripped file name for the caller to look up in its components
        directories.

    Raises
    ------
    ConfigError
        An inline value that is neither JSON nor a Python literal, or not an object.

    Examples
    --------
    >>> params_value('{"tau_m": 10.0}', "node_type_id 100")
    {'tau_m': 10.0}
    >>> params_value(" exc.json ", "node_type_id 100")
    'exc.json'
    """
    if value is None or (isinstance(value, float) and value != value):  # NaN: a type without the column
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    s = str(value).strip()
    if not s.startswith("{"):
        return s
    try:
        d = json.loads(s)
    except json.JSONDecodeError:
        try:  # a Python dict literal, as builders write a dict property
            d = ast.literal_eval(s)
        except (ValueError, SyntaxError) as e:
            raise ConfigError(None, where, "a JSON file name or an inline JSON object", s[:60]) from e
    if not isinstance(d, dict):
        raise ConfigError(None, where, "an object of parameters", type(d).__name__)
    return dict(d)


def read_params(value: Any, directory: str | None, where: str) -> tuple[dict, str | None]:
    """The parameters one ``dynamics_params`` value stands for, and the file they came from.

    Parameters
    ----------
    value : object
        The types table's value: None/NaN/"" (no parameters), a dict, an inline JSON object or Python dict
        literal, or a file name (relative to ``directory``, or absolute).
    directory : str or None
        The components folder for relative file names.
    where : str
        Names the value in errors (types file, type id).

    Returns
    -------
    params : dict
        A fresh dict (nested as in the file).
    source : str or None
        The absolute path of the file read, ``"inline"``, or None when there are no parameters.

    Raises
    ------
    ConfigError
        A file name with no folder to look in, a missing or unreadable file, text that is not a JSON object.
    """
    got = params_value(value, where)
    if isinstance(got, dict):
        return got, (None if value is None or (isinstance(value, float) and value != value) else "inline")
    if not got or got.lower() == "nan":
        return {}, None
    if os.path.isabs(got):
        path = got
    elif directory:
        path = os.path.join(directory, got)
    else:
        raise ConfigError(None, where, f"a components folder to find {got!r} in (a circuit config's components)",
                          "none")
    return _read_params_file(path), os.path.abspath(path)


def _read_params_file(path: str) -> dict[str, Any]:
    """The JSON object of a dynamics_params file; a ConfigError naming ``path`` when it is not one.

    Parameters
    ----------
    path : str
        A regular file under the JSON size cap (a FIFO or /dev/zero would block or never end).
    """
    text = read_text(path, "dynamics_params JSON file", MAX_JSON_BYTES)
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(path, None, "a JSON object of parameters", f"{type(e).__name__}: {e}") from e
    if not isinstance(d, dict):
        raise ConfigError(path, None, "a JSON object of parameters", type(d).__name__)
    return d


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested parameters as ``{dotted name: value}``.

    Dicts nest by key; a list of dicts with a ``name`` or ``section`` is keyed by ``[section.]name`` (bmtk's
    genome and per-section ``cm``; an item's ``value``, or its one other value such as ``cm``, becomes the parameter's
    value); other lists are keyed by index (none for a one-item list); lists of numbers stay lists.

    Parameters
    ----------
    params : mapping
    prefix : str
        Prepended to every name (with a dot).

    Returns
    -------
    dict

    Examples
    --------
    >>> flatten_params({"genome": [{"section": "soma", "name": "gbar_na", "value": 0.1}], "tau": 2.0})
    {'genome.soma.gbar_na': 0.1, 'tau': 2.0}
    >>> flatten_params({"passive": [{"ra": 100.0, "cm": [{"section": "soma", "cm": 1.0}]}]})
    {'passive.ra': 100.0, 'passive.cm.soma': 1.0}
    """
    out: dict[str, Any] = {}
    for k, v in params.items():
        name = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping):
            out.update(flatten_params(v, name))
        elif isinstance(v, list) and v and all(isinstance(x, Mapping) for x in v):
            for i, item in enumerate(v):
                if "name" in item or "section" in item:
                    key = ".".join(str(p) for p in (item.get("section"), item.get("name")) if p is not None)
                    rest = {kk: vv for kk, vv in item.items() if kk not in ("name", "section")}
                    if "value" in rest:  # bmtk's genome: the value; its mechanism is implied by the name
                        out[f"{name}.{key}"] = rest["value"]
                    elif len(rest) == 1 and not isinstance(next(iter(rest.values())), (Mapping, list)):
                        out[f"{name}.{key}"] = next(iter(rest.values()))
                    else:
                        out.update(flatten_params(rest, f"{name}.{key}"))
                else:
                    out.update(flatten_params(item, name if len(v) == 1 else f"{name}.{i}"))
        else:
            out[name] = v
    return out


def type_params(network: Network, population: str, kind: str = "nodes", *,
                missing: str = "raise") -> pd.DataFrame:
    """One row per node (or edge) type of a population, one column per parameter its ``dynamics_params`` gives.

    Parameters
    ----------
    network : Network
        Gives the types tables and, through its config, the ``components`` folders.
    population : str
        A node population (``kind="nodes"``) or edge population (``kind="edges"``).
    kind : {'nodes', 'edges'}
    missing : {'raise', 'keep'}
        What a parameter file that cannot be read does: raise, or leave the type's row without parameters
        and say why in ``attrs["errors"]``.

    Returns
    -------
    DataFrame
        Index ``node_type_id`` / ``edge_type_id`` (every type of the table); columns the flattened parameter
        names in first-seen order (NaN where a type lacks one), in the model's own units (e.g. ms, mV, pF for
        NEST's ``iaf_psc_*``).  ``attrs["sources"]``: type id -> the file read, ``"inline"`` or None;
        ``attrs["errors"]``: type id -> message (with ``missing="keep"``).

    Raises
    ------
    ConfigError
        An unknown population or kind, or (``missing="raise"``) a file that cannot be read; the message
        names the file or the types table and type id.

    Examples
    --------
    >>> type_params(net, "cortex_to_cortex", "edges")      # doctest: +SKIP
    """
    if kind not in ("nodes", "edges"):
        raise ConfigError(None, "kind", "'nodes' or 'edges'", repr(kind))
    if missing not in ("raise", "keep"):
        raise ConfigError(None, "missing", "'raise' or 'keep'", repr(missing))
    pops = network.nodes if kind == "nodes" else network.edges
    if population not in pops:
        raise ConfigError(network.path, kind, f"a {kind[:-1]} population of the network ({sorted(pops)})",
                          repr(population))
    pop = pops[population]
    id_name = "node_type_id" if kind == "nodes" else "edge_type_id"
    types = pop.types.to_frame() if pop.types is not None else pd.DataFrame(index=pd.Index([], name=id_name))
    comps = dict(getattr(network.config, "components", None) or {})
    table_path = getattr(pop.types, "path", None) or pop.path
    rows: dict[Any, dict[str, Any]] = {}
    sources: dict[Any, str | None] = {}
    errors: dict[Any, str] = {}
    for tid, row in types.iterrows():
        value = row.get("dynamics_params")
        if kind == "nodes":
            directory = comps.get(COMPONENT_DIRS.get(str(row.get("model_type")), ""), None)
        else:
            directory = comps.get(EDGE_DIR)
        where = f"{table_path}: {id_name} {tid}: dynamics_params"
        try:
            params, src = read_params(value, directory, where)
        except ConfigError as e:
            if missing == "raise":
                raise
            rows[tid], sources[tid], errors[tid] = {}, None, str(e)
            continue
        rows[tid], sources[tid] = flatten_params(params), src
    names: dict[str, None] = {}
    for r in rows.values():
        names.update(dict.fromkeys(r))
    out = pd.DataFrame({n: [rows[t].get(n, np.nan) for t in rows] for n in names},
                       index=pd.Index(list(rows), name=id_name))
    out.attrs["sources"] = sources
    out.attrs["errors"] = errors
    return out

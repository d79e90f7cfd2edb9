"""Network: the node and edge populations of a circuit, loaded from a config, a folder or a file."""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import h5py
import numpy as np

from modelkit._typing import NodeSetRef, PathLike
from modelkit.errors import ConfigError, ModelkitError, NodeSetError, SonataFormatError
from modelkit.sonata import h5
from modelkit.sonata.config import CircuitConfig, EdgesEntry, NodesEntry, SimulationConfig, load_config
from modelkit.sonata.edges import EdgePopulation, write_edges
from modelkit.sonata.fileset import FileSet, recover
from modelkit.sonata.node_sets import NodeSets, named_populations
from modelkit.sonata.nodes import NodePopulation, write_nodes
from modelkit.sonata.selection import Selection
from modelkit.sonata.types_table import TypesTable, read_types_csv, write_types_csv

__all__ = ["Network", "Populations", "classify_h5", "types_csv_for", "scan_populations"]


class Populations(Mapping):
    """Read-only name -> population mapping with a readable repr.

    ``unreadable`` holds the populations of the files that could not be opened (name -> the error): they
    are not among the items, and asking for one raises its error, which names the file and dataset.
    """

    def __init__(self, items: dict[str, Any], kind: str,
                 unreadable: Mapping[str, SonataFormatError] | None = None) -> None:
        self._items = dict(items)
        self._kind = kind
        self.unreadable = dict(unreadable or {})

    def __getitem__(self, name: str) -> Any:
        try:
            return self._items[name]
        except KeyError:
            if name in self.unreadable:
                e = self.unreadable[name]
                raise SonataFormatError(e.path, e.dataset, e.expected, e.found) from e
            raise KeyError(f"no {self._kind} population {name!r}; have {sorted(self._items)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return self._items.get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"{self._kind} populations: " + ", ".join(f"{k} ({len(v)})" for k, v in self._items.items())


def classify_h5(path: PathLike) -> str:
    """What a SONATA HDF5 file holds: ``nodes``, ``edges``, ``spikes``, ``report``, ``ecp`` or ``other``.

    Parameters
    ----------
    path : str or PathLike
        The HDF5 file.
    """
    f = h5.open_h5(path)
    try:
        with h5.guard(path, "/", "a readable HDF5 root group"):
            keys = set(f.keys())
    finally:
        f.close()
    for k in ("nodes", "edges", "spikes", "report", "ecp"):
        if k in keys:
            return k
    return "other"


def types_csv_for(h5_path: str, kind: str) -> str | None:
    """Types CSV that bmtk's naming pairs with a nodes/edges file (``x_nodes.h5`` -> ``x_node_types.csv``).

    Parameters
    ----------
    h5_path, kind : str
        A nodes or edges file, and which of the two it is (``nodes`` or ``edges``).
    """
    d, base = os.path.split(h5_path)
    stem = os.path.splitext(base)[0]
    word = "nodes" if kind == "nodes" else "edges"
    tword = "node_types" if kind == "nodes" else "edge_types"
    cands = []
    if stem.endswith(word):
        cands.append(stem[: -len(word)] + tword + ".csv")
    cands.append(stem + "_" + tword + ".csv")
    for c in cands:
        p = os.path.join(d, c)
        if os.path.exists(p):
            return p
    return None


def scan_populations(path: str, root: str) -> tuple[list[str], dict[str, SonataFormatError]]:
    """The population groups under ``/<root>`` of a nodes or edges file, and what is there but is not one.

    As libsonata does, a file whose other populations are malformed still opens: the valid names are
    returned, and each child of ``/<root>`` that cannot be a population (a dataset, a dangling link)
    is returned with the error that a use of it raises.

    Parameters
    ----------
    path, root : str
        A nodes or edges file, and its root group (``nodes`` or ``edges``).

    Returns
    -------
    names : list of str
        Population groups, in file order.
    unreadable : dict of str to SonataFormatError
        Name -> why it cannot be opened (naming the file and ``/<root>/<name>``).

    Raises
    ------
    SonataFormatError
        The file does not open, has no ``/<root>`` group, or nothing at all under it.
    """
    f = h5.open_h5(path, f"SONATA {root} file")
    names: list[str] = []
    unreadable: dict[str, SonataFormatError] = {}
    try:
        g = h5.require_group(f, root, path, f"a /{root} group")
        with h5.guard(path, f"/{root}", "a readable group"):
            keys = list(g.keys())
        for k in keys:
            try:
                with h5.guard(path, f"/{root}/{k}", "a population group"):
                    obj = g.get(k)
            except SonataFormatError as e:
                unreadable[k] = e
                continue
            if isinstance(obj, h5py.Group):
                names.append(k)
            else:
                unreadable[k] = SonataFormatError(path, f"/{root}/{k}", "a population group",
                                                  "nothing (a dangling link)" if obj is None else type(obj).__name__)
    finally:
        f.close()
    if not keys:
        raise SonataFormatError(path, f"/{root}", "one or more population groups", "none")
    return names, unreadable


def _population_names(path: str, root: str) -> list[str]:
    """The population groups of a file, refusing it when anything under ``/<root>`` is not one."""
    names, unreadable = scan_populations(path, root)
    if unreadable:
        raise next(iter(unreadable.values()))
    return names


class Network:
    """A SONATA circuit: node populations, edge populations, node sets.

    Construct with :meth:`load`; nothing is read until a population is used.

    Examples
    --------
    >>> net = Network.load("circuit_config.json")    # doctest: +SKIP
    >>> net.nodes["cortex"].get(["model_type"])       # doctest: +SKIP
    """

    def __init__(self, nodes: Mapping[str, NodePopulation], edges: Mapping[str, EdgePopulation],
                 config: CircuitConfig | SimulationConfig | None = None, node_sets: NodeSets | None = None,
                 path: str | None = None, unreadable: Mapping[str, Mapping[str, SonataFormatError]] | None = None
                 ) -> None:
        bad = unreadable or {}
        self.nodes = Populations(dict(nodes), "node", bad.get("nodes"))
        self.edges = Populations(dict(edges), "edge", bad.get("edges"))
        self.config = config
        self.node_sets = node_sets if node_sets is not None else NodeSets()
        self.path = path

    # ---------------------------------------------------------------- loading
    @classmethod
    def load(cls, path: PathLike) -> "Network":
        """Load a network from a circuit/simulation config, a folder of SONATA files, or one h5 file.

        Parameters
        ----------
        path : str or PathLike
            A circuit or simulation config JSON, a folder of SONATA files, or one nodes/edges file.

        Raises
        ------
        ConfigError, SonataFormatError
        """
        p = os.path.abspath(os.fspath(path))
        recover(p if os.path.isdir(p) else os.path.dirname(p))  # a save killed part way: complete or undo it
        if os.path.isdir(p):
            return cls._from_folder(p)
        if not os.path.exists(p):
            raise ModelkitError(f"{p}: no such file or folder")
        if p.endswith(".json"):
            return cls.from_config(load_config(p))
        kind = classify_h5(p)
        if kind not in ("nodes", "edges"):
            raise SonataFormatError(p, "/", "a nodes or edges file (a network)", f"a {kind} file")
        return cls._from_files([p], p)

    @classmethod
    def from_config(cls, cfg: CircuitConfig | SimulationConfig) -> "Network":
        """Populations of every enabled network entry of a parsed config.

        Parameters
        ----------
        cfg : CircuitConfig or SimulationConfig
            A parsed config.
        """
        circuit = cfg.circuit if isinstance(cfg, SimulationConfig) else cfg
        if circuit is None:
            raise ConfigError(cfg.path, "network", "a circuit (a 'network' file or inline 'networks')", "none")
        _recover_folders(circuit)
        types_cache: dict[str, TypesTable] = {}
        where = circuit.path or cfg.path  # the file holding the networks entries
        found: dict[str, dict[str, Any]] = {"nodes": {}, "edges": {}}
        unreadable: dict[str, dict[str, SonataFormatError]] = {"nodes": {}, "edges": {}}
        sections: tuple[tuple[str, tuple[NodesEntry | EdgesEntry, ...], type], ...] = (
            ("nodes", circuit.nodes, NodePopulation), ("edges", circuit.edges, EdgePopulation))
        for section, entries, kind in sections:
            pops = found[section]
            for i, e in enumerate(entries):
                if not e.enabled:
                    continue
                key = f"networks.{section}[{i}]"
                t = _types(e.types_file, f"{section[:-1]}_type_id", types_cache, where,
                           f"{key}.{section[:-1]}_types_file")
                names, bad = scan_populations(_must_exist(e.file, where, f"{key}.{section}_file"), section)
                for name in names + list(bad):
                    other = pops[name].path if name in pops else getattr(unreadable[section].get(name), "path", None)
                    if other is not None:
                        raise ConfigError(where, key, f"unique {section[:-1]} population names",
                                          f"{name!r} also in {other}")
                    if name in bad:
                        unreadable[section][name] = bad[name]
                    else:
                        pops[name] = kind(e.file, name, t)
        nodes, edges = found["nodes"], found["edges"]
        if cfg.node_sets_file:
            _must_exist(cfg.node_sets_file, cfg.path, "node_sets_file")
        return cls(nodes, edges, cfg, NodeSets.from_config(cfg), cfg.path, unreadable)

    @classmethod
    def _from_folder(cls, folder: str) -> "Network":
        for name in ("circuit_config.json", "config.circuit.json"):
            if os.path.exists(os.path.join(folder, name)):
                return cls.from_config(load_config(os.path.join(folder, name)))
        files = sorted(glob.glob(os.path.join(folder, "*.h5")) + glob.glob(os.path.join(folder, "*.hdf5")))
        net_files = [f for f in files if classify_h5(f) in ("nodes", "edges")]
        if not net_files:
            raise ModelkitError(f"{folder}: no SONATA nodes/edges files (*.h5) and no circuit_config.json")
        return cls._from_files(net_files, folder)

    @classmethod
    def _from_files(cls, files: list[str], path: str) -> "Network":
        nodes: dict[str, NodePopulation] = {}
        edges: dict[str, EdgePopulation] = {}
        unreadable: dict[str, dict[str, SonataFormatError]] = {"nodes": {}, "edges": {}}
        for f in files:
            kind = classify_h5(f)
            csv = types_csv_for(f, kind)
            t = read_types_csv(csv, "node_type_id" if kind == "nodes" else "edge_type_id") if csv else None
            names, bad = scan_populations(f, kind)
            for name in names + list(bad):
                target = nodes if kind == "nodes" else edges
                other = target[name].path if name in target else getattr(unreadable[kind].get(name), "path", None)
                if other is not None:
                    raise SonataFormatError(f, f"/{kind}/{name}", "unique population names across files",
                                            f"also in {other}")
                if name in bad:
                    unreadable[kind][name] = bad[name]
                else:
                    target[name] = (NodePopulation if kind == "nodes" else EdgePopulation)(f, name, t)  # type: ignore[assignment]
        return cls(nodes, edges, None, NodeSets(), path, unreadable)

    # ------------------------------------------------------------- node sets
    def resolve_node_set(self, ref: NodeSetRef) -> tuple[str, dict[str, Selection]]:
        """Materialise a node-set reference as used in configs.

        ``ref`` may be a name from the node-sets file, a bare population name (bmtk's
        fallback), an inline dict (``{"population": "v1", "node_id": [...]}``), a list
        of node ids (applied to every population) or a list of names.

        Parameters
        ----------
        ref : str, dict or list
            A node-set reference as in configs: a node-set name, a population name, an inline rule dict, node ids,
            or a list of names and dicts.

        Returns
        -------
        how : str
            ``node_sets_file``, ``population_name_fallback``, ``builtin_all`` (bmtk's ``"all"`` when the
            node-sets file does not define it), ``inline(dict)`` or ``inline(list)``.
        selections : dict
            Population name -> Selection.

        Raises
        ------
        NodeSetError
            An unknown name, an invalid inline definition (naming the config that holds it:
            the network's ``path``).
        """
        try:
            return self._resolve_node_set(ref)
        except NodeSetError as e:
            if e.path is not None:
                raise
            # an inline definition: the config that holds the reference is where to look
            raise NodeSetError(self.path, e.key or f"node set reference {_short_repr(ref)}", e.expected,
                               e.found) from e

    def _resolve_node_set(self, ref: NodeSetRef) -> tuple[str, dict[str, Selection]]:
        inline = NodeSets()  # no file: errors in an inline definition get the config's path above
        if self.nodes.unreadable:  # a reference to a population that cannot be opened: its error says why
            for name in sorted(named_populations(ref, self.node_sets) & set(self.nodes.unreadable)):
                _ = self.nodes[name]

        def named_or_inline(defn: Any, p: NodePopulation) -> Selection:
            if isinstance(defn, list):  # names come from the node sets file, dicts are inline
                out = Selection()
                for item in defn:
                    out = out | (self.node_sets.materialize(item, p) if isinstance(item, str)
                                 else inline.materialize(item, p))
                return out
            return inline.materialize(defn, p)

        if isinstance(ref, str):
            if ref in self.node_sets:
                return "node_sets_file", {n: self.node_sets.materialize(ref, p) for n, p in self.nodes.items()}
            if ref in self.nodes:
                return "population_name_fallback", {n: (p.ids() if n == ref else Selection())
                                                    for n, p in self.nodes.items()}
            if ref == "all":  # bmtk's built-in node set (NodeSetAll): every node of every population
                return "builtin_all", {n: p.ids() for n, p in self.nodes.items()}
            circuit = getattr(self.config, "circuit", self.config)
            pops = ", ".join(f"{n} ({os.path.basename(p.path)})" for n, p in sorted(self.nodes.items()))
            raise NodeSetError(self.path, ref or repr(ref),
                               f"a node set of {' and '.join(self.node_sets.sources) or 'the network'} "
                               f"(known: {self.node_sets.names}) or a population name of "
                               f"{getattr(circuit, 'path', None) or 'the network'} (known: {pops or 'none'})",
                               "undefined")
        if isinstance(ref, Mapping):
            return "inline(dict)", {n: named_or_inline(dict(ref), p) for n, p in self.nodes.items()}
        if isinstance(ref, (int, np.integer)) and not isinstance(ref, bool):
            ref = [int(ref)]
        if isinstance(ref, (list, tuple)):
            if all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in ref):
                # ids outside the population (negative, past the end) select nothing
                ids = np.asarray([int(x) for x in ref if 0 <= int(x) < 2**63], dtype=np.int64)
                return "inline(list)", {n: Selection.from_values(ids[ids < p.size])
                                        if p.layout.ids is None else p.select(node_id=list(map(int, ids)))
                                        for n, p in self.nodes.items()}
            return "inline(list)", {n: named_or_inline(list(ref), p) for n, p in self.nodes.items()}
        raise NodeSetError(None, None, "a node set name, dict or list", type(ref).__name__)

    def with_dynamics(self, target: NodeSetRef, params: Mapping[str, Any]) -> "Network":
        """This network with per-node ``dynamics_params`` overridden in memory for the nodes of ``target``.

        The SONATA files are not touched; pass the result to ``simulate(config, network=...)``.  This is
        how :func:`modelkit.cluster.sweep` varies model parameters (keys ``dynamics.<target>.<param>``).

        Parameters
        ----------
        target : str, dict or list
            A node-set reference as in configs (see :meth:`resolve_node_set`): a node-set name, a population
            name, an inline rule dict or node ids.
        params : mapping
            Parameter name -> number, in the model's own units (e.g. ``{"tau_m": 20.0}`` ms, ``{"I_e": 50.0}`` pA
            for NEST models).

        Returns
        -------
        Network
            A new network sharing files, node sets and edges with this one.

        Raises
        ------
        NodeSetError
            ``target`` selects no known node set or population.
        SelectionError
            A value that is not a number.

        Examples
        --------
        >>> hot = net.with_dynamics("exc", {"tau_m": 25.0})           # doctest: +SKIP
        >>> simulate("config.simulation.json", network=hot)           # doctest: +SKIP
        """
        sels = self.materialize(target)
        if not any(len(s) for s in sels.values()):
            raise NodeSetError(self.path, f"dynamics override target {_short_repr(target)}",
                               "a node set or population with at least one node", "no nodes")
        nodes = {n: (p.with_dynamics(params, sels[n]) if len(sels.get(n, Selection())) else p)
                 for n, p in self.nodes.items()}
        return Network(nodes, dict(self.edges.items()), self.config, self.node_sets, self.path,
                       {"nodes": self.nodes.unreadable, "edges": self.edges.unreadable})

    def with_edge_params(self, edge_type_id: int | Sequence[int], params: Mapping[str, Any], *,
                         population: str | None = None) -> "Network":
        """This network with the properties of some edge types (``syn_weight``, ``delay``, ...) replaced in memory.

        The SONATA files are not touched: every backend reads the new values (NEST and NEURON through
        ``simulation_column`` / ``type_values``), whether the files hold the property per edge or in the
        edge-types CSV.  :func:`modelkit.simulator.simulate`'s ``overrides`` key
        ``edge_types.<edge_type_id>.<property>`` calls this.

        Parameters
        ----------
        edge_type_id : int or sequence of int
            The edge type(s) to change.
        params : mapping
            Property -> number, in the property's own units (``{"syn_weight": 1.6, "delay": 2.0}``: ``delay`` ms,
            ``syn_weight`` as the synapse model reads it, e.g. mV for NEST's ``iaf_psc_delta``).
        population : str, optional
            Only this edge population (default: every population whose edge-types table has the type).

        Returns
        -------
        Network
            A new network sharing files, nodes and node sets with this one.

        Raises
        ------
        SelectionError
            No edge population has such an edge type (the message lists those there are), or a property it
            does not have, or a value that is not a finite number.

        Examples
        --------
        >>> stronger = net.with_edge_params(100, {"syn_weight": 1.6})          # doctest: +SKIP
        >>> simulate("config.simulation.json", network=stronger)               # doctest: +SKIP
        """
        from modelkit.errors import SelectionError
        from modelkit.sonata.edge_overlay import with_edge_type_values

        ids = [int(edge_type_id)] if isinstance(edge_type_id, (int, np.integer)) else [int(t) for t in edge_type_id]
        if population is not None and population not in self.edges:
            raise SelectionError(f"{self.path}: no edge population {population!r}; have {sorted(self.edges)}")
        edges = dict(self.edges.items())
        have: dict[str, list[int]] = {}
        hit = set()
        for name, epop in self.edges.items():
            if population is not None and name != population:
                continue
            types = epop.types.ids.tolist() if epop.types is not None else []
            have[name] = types
            mine = [t for t in ids if t in types]
            if mine:
                hit.update(mine)
                edges[name] = with_edge_type_values(epop, {t: params for t in mine})
        missing = [t for t in ids if t not in hit]
        if missing:
            raise SelectionError(f"{self.path}: no edge type {missing} in "
                                 f"{'edge population ' + repr(population) if population else 'the network'}; "
                                 f"edge types: {have}")
        return Network(dict(self.nodes.items()), edges, self.config, self.node_sets, self.path,
                       {"nodes": self.nodes.unreadable, "edges": self.edges.unreadable})

    def materialize(self, ref: NodeSetRef) -> dict[str, Selection]:
        """Population -> Selection for a node-set reference (see :meth:`resolve_node_set`).

        Parameters
        ----------
        ref : str, dict or list
            A node-set reference as in configs: a node-set name, a population name, an inline rule dict, node ids,
            or a list of names and dicts.
        """
        return self.resolve_node_set(ref)[1]

    # ------------------------------------------------------------- summaries
    def summary(self) -> dict[str, Any]:
        """``{"nodes": {pop: {"count", "node_types", ...}}, "edges": {pop: {"count", "source", "target", ...}},
        "node_sets": [...], "unreadable": {"nodes": {pop: message}, "edges": {...}}}``.

        A population that cannot be read (malformed datasets, or not a population group at all) is left out
        of ``nodes`` / ``edges`` and listed under ``unreadable`` with the error, which names file and dataset.
        """
        unreadable: dict[str, dict[str, str]] = {
            "nodes": {n: str(e) for n, e in self.nodes.unreadable.items()},
            "edges": {n: str(e) for n, e in self.edges.unreadable.items()}}
        nodes = {}
        for n, p in self.nodes.items():
            try:
                nodes[n] = {"count": p.size, "node_types": {str(k): v for k, v in p.type_counts().items()},
                            "file": p.path}
            except ModelkitError as err:
                unreadable["nodes"][n] = str(err)
                continue
            try:
                nodes[n]["model_types"] = {str(k): len(v) for k, v in p.split_by("model_type").items()} \
                    if "model_type" in p.attribute_names else {}
            except ModelkitError:
                nodes[n]["model_types"] = {}
        edges = {}
        for n, e in self.edges.items():
            try:
                edges[n] = {"count": e.size, "source": e.source, "target": e.target,
                            "edge_types": {str(k): v for k, v in e.type_counts().items()}, "file": e.path}
            except ModelkitError as err:
                unreadable["edges"][n] = str(err)
        return {"nodes": nodes, "edges": edges, "node_sets": self.node_sets.names, "unreadable": unreadable}

    def __repr__(self) -> str:
        return (f"<Network {self.path}: nodes {dict((k, _size(v)) for k, v in self.nodes.items())}, "
                f"edges {dict((k, _size(v)) for k, v in self.edges.items())}>")

    def _repr_html_(self) -> str:
        from modelkit.formatting_html import network_html
        return network_html(self.path, self.summary())

    # ------------------------------------------------------------- writing
    def save(self, output_dir: PathLike, *, overwrite: bool = False) -> str:
        """Write every population as SONATA files plus a ``circuit_config.json``, all or nothing.

        One nodes file (and types CSV) per node population, one edges file per edge
        population.  They are written as one set (:mod:`modelkit.sonata.fileset`): into a staging
        folder ``output_dir/.circuit_config.saving-<pid>-...`` first, then moved over the old files once
        all are written; a kill at any point leaves the old network or (after the next load or save of
        the folder) the new one, and no other file of ``output_dir`` is touched.

        Parameters
        ----------
        output_dir : str or PathLike
            Folder to write into (created when missing).
        overwrite : bool, optional
            Replace files of an earlier save (else refuse them).

        Returns
        -------
        str
            Path of the written circuit config.

        Raises
        ------
        OutputExistsError
            A file exists and ``overwrite`` is false.
        """
        out = os.path.abspath(os.fspath(output_dir))
        cfg: dict[str, Any] = {"manifest": {"$NETWORK_DIR": "${configdir}"},
                               "networks": {"nodes": [], "edges": []}}
        with FileSet(out, "circuit_config", overwrite=overwrite) as fs:
            for n, p in self.nodes.items():
                fs.path(f"{n}_nodes.h5")
                if p.types is not None:
                    fs.path(f"{n}_node_types.csv")
            for n, e in self.edges.items():
                fs.path(f"{n}_edges.h5")
                if e.types is not None:
                    fs.path(f"{n}_edge_types.csv")
            path = fs.path("circuit_config.json")
            if not overwrite and fs.existing():  # before writing anything
                from modelkit.errors import OutputExistsError
                raise OutputExistsError(f"{out}: {fs.existing()} exist; refusing to overwrite (pass overwrite=True)")
            for n, p in self.nodes.items():
                write_nodes(fs.path(f"{n}_nodes.h5"), [p.to_data()])
                entry = {"nodes_file": f"$NETWORK_DIR/{n}_nodes.h5"}
                if p.types is not None:
                    write_types_csv(fs.path(f"{n}_node_types.csv"), p.types)
                    entry["node_types_file"] = f"$NETWORK_DIR/{n}_node_types.csv"
                cfg["networks"]["nodes"].append(entry)
            for n, e in self.edges.items():
                data = e.to_data()
                if e.source in self.nodes:
                    data.source_node_count = self.nodes[e.source].size
                if e.target in self.nodes:
                    data.target_node_count = self.nodes[e.target].size
                write_edges(fs.path(f"{n}_edges.h5"), [data])
                entry = {"edges_file": f"$NETWORK_DIR/{n}_edges.h5"}
                if e.types is not None:
                    write_types_csv(fs.path(f"{n}_edge_types.csv"), e.types)
                    entry["edge_types_file"] = f"$NETWORK_DIR/{n}_edge_types.csv"
                cfg["networks"]["edges"].append(entry)
            with open(path, "w", encoding="utf-8") as f:
                json.dump(cfg, f, indent=2)
                f.write("\n")
            fs.commit()
        return os.path.join(out, "circuit_config.json")

    def close(self) -> None:
        """Close every open HDF5 handle."""
        for p in list(self.nodes.values()) + list(self.edges.values()):
            p.close()


def _size(pop: Any) -> int | str:
    """A population's size for a repr, or ``"unreadable"`` (a repr never raises)."""
    try:
        return len(pop)
    except ModelkitError:
        return "unreadable"


def _short_repr(v: Any) -> str:
    s = repr(v)
    return s if len(s) <= 60 else s[:57] + "..."


def _recover_folders(circuit: CircuitConfig) -> None:
    """Complete or undo the interrupted saves in every folder the circuit reads files from."""
    folders: set[str] = set()
    entries: list[NodesEntry | EdgesEntry] = [*circuit.nodes, *circuit.edges]
    for e in entries:
        if e.enabled:
            folders.update(os.path.dirname(os.path.abspath(f)) for f in (e.file, e.types_file) if f)
    for d in sorted(folders):
        recover(d)


def _must_exist(p: str, cfg_path: str | None, key: str) -> str:
    if not os.path.isfile(p):
        raise ConfigError(cfg_path, key, "an existing file", p + (" (a directory)" if os.path.isdir(p) else ""))
    return p


def _types(p: str | None, id_col: str, cache: dict[str, TypesTable], cfg_path: str | None,
           key: str) -> TypesTable | None:
    if not p:
        return None
    if p not in cache:
        cache[p] = read_types_csv(_must_exist(p, cfg_path, key), id_col)
    return cache[p]

"""NetworkBuilder: bmtk's builder verbs, vectorised columns inside, SONATA out through modelkit.sonata."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import types
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from modelkit._typing import IdsLike, PathLike
from modelkit.builder._files import WORK_PREFIX, compress_in_place, publish_set, safe_name, sweep_dead_workdirs, \
    target_path
from modelkit.builder.connection_map import ConnectionMap
from modelkit.builder.compression import CompressionLike, normalize_compression
from modelkit.builder.connectors import RuleLike, as_rule
from modelkit.builder.edge_view import Edge, select_edges
from modelkit.builder.generate import generate_edges, global_rng_state
from modelkit.builder.nodes import NodePool, NodeSelector, NodeSetSpec, NodeTable, resolve_pool
from modelkit.errors import BuilderError, OutputExistsError
from modelkit.sonata import Network, NodePopulationData, TypesTable, write_nodes, write_types_csv
from modelkit.sonata.fileset import FileSet, owner_tag
from modelkit.sonata.groups import GroupData

__all__ = ["NetworkBuilder"]

log = logging.getLogger("modelkit.builder")

#: names bmtk treats specially in add_edges
_EDGE_RESERVED = ("source_query", "target_query")


class NetworkBuilder:
    """Build a network with bmtk's verbs; save it as SONATA.

    A bmtk build script runs unchanged with ``from modelkit.builder import
    NetworkBuilder``.  Inside, nodes and edges are numpy columns: connection rules
    may be bmtk per-pair callables (evaluated block by block) or vectorised rules
    (:mod:`modelkit.builder.connectors`), and edges stream to disk sorted by target.

    Parameters
    ----------
    name : str
        Network (node population) name.
    seed : int, optional
        Seed of every random stream of the build (rules, properties, and numpy's and
        Python's global generators while bmtk-style callables run): the same seed
        gives byte-identical files.  Without a seed, fresh entropy is drawn
        (``builder.seed`` tells which).
    targets_per_block : int
        Target nodes per edge-generation block (bounds memory; part of the random streams).

    Examples
    --------
    >>> net = NetworkBuilder("v1", seed=1)
    >>> net.add_nodes(N=80, ei="e", model_type="point_neuron", model_template="nest:iaf_psc_alpha")
    >>> net.add_nodes(N=20, ei="i", model_type="point_neuron", model_template="nest:iaf_psc_alpha")
    >>> cm = net.add_edges(source={"ei": "e"}, target={"ei": "i"},
    ...                    connection_rule=FixedProbability(0.1), syn_weight=2.0, delay=1.5)
    >>> net.build()                 # doctest: +SKIP
    >>> net.save(output_dir="network")  # doctest: +SKIP
    """

    def __init__(self, name: str, seed: int | None = None, targets_per_block: int = 1024, **network_props: Any):
        if not isinstance(name, str) or not name:
            raise BuilderError("name", "a non-empty network name", repr(name))
        if "/" in name:
            raise BuilderError("name", "a name without '/' (it names an HDF5 group)", repr(name))
        if isinstance(targets_per_block, bool) or not isinstance(targets_per_block, int) or targets_per_block < 1:
            raise BuilderError("targets_per_block", "a positive int", repr(targets_per_block))
        self._name = name
        self._seed_seq = np.random.SeedSequence(seed)
        self.seed = int(self._seed_seq.entropy)  # type: ignore[arg-type]
        self._explicit_seed = seed is not None
        self.targets_per_block = targets_per_block
        self.network_props = network_props
        self._sets: list[NodeSetSpec] = []
        self._node_types: dict[int, dict] = {}
        self._next_type_id = 100
        self._maps: list[ConnectionMap] = []
        self._next_edge_type_id = 100
        self._table_cache: NodeTable | None = None
        self._built: Network | None = None
        self._workdir: str | None = None
        self._finalizer: Any = None
        self._files: dict[str, str] = {}
        self._n_syns = 0

    # --------------------------------------------------------------- properties
    @property
    def name(self) -> str:
        """Network (node population) name."""
        return self._name

    @property
    def nnodes(self) -> int:
        """Number of nodes added."""
        return int(sum(s.n for s in self._sets))

    @property
    def nedges(self) -> int:
        """Number of synapses made by the last build (as bmtk counts: ``nsyns`` summed)."""
        return self._n_syns

    @property
    def nodes_built(self) -> bool:
        return self._table_cache is not None

    @property
    def edges_built(self) -> bool:
        return self._built is not None

    def get_connections(self) -> list[ConnectionMap]:
        """The ConnectionMap of every ``add_edges`` call."""
        return list(self._maps)

    # ---------------------------------------------------------------- nodes
    def add_nodes(self, N: int = 1, **properties: Any) -> None:
        """Add ``N`` nodes of one new node type.

        A scalar property is shared by the whole call and goes to the node-types
        CSV; a list/array of length N (or a generator, range, or a
        :class:`~modelkit.builder.distributions.Distribution`, sampled N times)
        gives one value per node and goes to the HDF5 group.  ``positions`` may be
        an (N, 3) array (µm); ``node_type_id`` and ``node_id`` may be given.

        Parameters
        ----------
        N : int, optional
            Number of nodes.
        **properties
            Node properties: a scalar (shared, to the node-types CSV) or one value per node (a list, array, range,
            generator or Distribution); ``positions`` (N, 3) in µm.

        Raises
        ------
        BuilderError
            A per-node property of the wrong length, a duplicate id, a bad N.
        """
        if isinstance(N, bool) or not isinstance(N, (int, np.integer)) or N < 0:
            raise BuilderError("add_nodes(N)", "a non-negative int", repr(N))
        N = int(N)
        rng = np.random.default_rng(np.random.SeedSequence(self._seed_seq.entropy,
                                                           spawn_key=(0xA0DE, len(self._sets))))
        per_node: dict[str, np.ndarray] = {}
        shared: dict[str, Any] = {}
        for key, value in properties.items():
            where = f"add_nodes({key})"
            if hasattr(value, "sample") and not isinstance(value, (list, np.ndarray)):
                v = np.asarray(value.sample(N, rng))
                if len(v) != N:
                    raise BuilderError(where, f"{N} values from the distribution", str(len(v)))
                per_node[key] = v
            elif isinstance(value, (list, np.ndarray)):
                if len(value) != N:
                    raise BuilderError(where, f"{N} values (one per node) or a single value", f"{len(value)} values")
                per_node[key] = _as_column(value, where)
            elif isinstance(value, (types.GeneratorType, range)):
                vals = list(value)
                if len(vals) != N:
                    raise BuilderError(where, f"{N} values (one per node)", f"{len(vals)} values")
                per_node[key] = _as_column(vals, where)
            else:
                shared[key] = value
        if "node_type_id" in per_node:
            raise BuilderError("add_nodes(node_type_id)", "one node_type_id per add_nodes call", "an array")
        type_id = shared.pop("node_type_id", None)
        if type_id is None:
            while self._next_type_id in self._node_types:
                self._next_type_id += 1
            type_id = self._next_type_id
            self._next_type_id += 1
        elif int(type_id) in self._node_types:
            raise BuilderError("add_nodes(node_type_id)", "a new node type id", f"{type_id} exists")
        ids = None
        if "node_id" in per_node or "node_id" in shared:
            ids = np.atleast_1d(np.asarray(per_node.pop("node_id", shared.pop("node_id", None)))).astype(np.int64)
            if len(ids) != N:
                raise BuilderError("add_nodes(node_id)", f"{N} ids", str(len(ids)))
            taken = self._explicit_ids()
            dup = np.intersect1d(ids, taken).tolist() + [i for i in set(ids.tolist()) if ids.tolist().count(i) > 1]
            if dup:
                raise BuilderError("add_nodes(node_id)", "ids not used yet", f"duplicates {sorted(set(dup))[:5]}")
        props = dict(shared)
        props["node_type_id"] = int(type_id)
        self._node_types[int(type_id)] = props
        self._sets.append(NodeSetSpec(N, int(type_id), per_node, {k: v for k, v in props.items()
                                                                   if k != "node_type_id"}, ids))
        self._invalidate()

    def _explicit_ids(self) -> np.ndarray:
        parts = [s.node_ids for s in self._sets if s.node_ids is not None]
        return np.concatenate(parts) if parts else np.empty(0, np.int64)

    def _table(self) -> NodeTable:
        if self._table_cache is None:
            taken = set(self._explicit_ids().tolist())
            ids_all = []
            nxt = 0
            for s in self._sets:
                if s.node_ids is not None:
                    ids_all.append(s.node_ids)
                    continue
                if not taken:
                    ids_all.append(np.arange(nxt, nxt + s.n, dtype=np.int64))
                    nxt += s.n
                    continue
                out: list[int] = []
                while len(out) < s.n:  # skip ids given explicitly elsewhere (bmtk's IDGenerator)
                    if nxt not in taken:
                        out.append(nxt)
                    nxt += 1
                ids_all.append(np.asarray(out, dtype=np.int64))
            ids = np.concatenate(ids_all) if ids_all else np.empty(0, np.int64)
            self._table_cache = NodeTable(self._sets, ids)
        return self._table_cache

    def nodes(self, **properties: Any) -> NodePool:
        """Nodes matching every property (a value, a list of values, or a predicate); all when empty.

        Iterating gives dict-like nodes with ``node_id``; ``.ids`` gives the ids.

        Parameters
        ----------
        **properties
            Property query: a value, a list of values or a predicate per property; all nodes when empty.
        """
        return NodePool(self, properties)

    def nodes_iter(self, nids: IdsLike | None = None) -> list:
        views = self._table().views()
        if nids is None:
            return views
        want = set(np.atleast_1d(np.asarray(nids)).tolist())
        return [v for v in views if v.node_id in want]

    def import_nodes(self, nodes_file_name: PathLike, node_types_file_name: PathLike,
                     population: str | None = None) -> None:
        """Add the nodes of an existing SONATA population (ids, types and per-node columns kept).

        Parameters
        ----------
        nodes_file_name : str or PathLike
            A SONATA nodes file.
        node_types_file_name : str or PathLike
            Its node-types CSV.
        population : str, optional
            Population to import; the file's only one when omitted.

        Raises
        ------
        BuilderError, SonataFormatError
        """
        from modelkit.sonata import read_types_csv
        from modelkit.sonata.nodes import NodePopulation
        from modelkit.sonata.network import _population_names
        names = _population_names(os.fspath(nodes_file_name), "nodes")
        if population is None:
            if len(names) != 1:
                raise BuilderError("import_nodes(population)", f"one of {names}", "None (the file has several)")
            population = names[0]
        elif population not in names:
            raise BuilderError("import_nodes(population)", f"one of {names}", repr(population))
        types_table = read_types_csv(node_types_file_name, "node_type_id")
        pop = NodePopulation(nodes_file_name, population, types_table)
        tf = types_table.to_frame()
        type_props = {int(t): {k: _py(v) for k, v in row.items() if not _is_null(v)} for t, row in tf.iterrows()}
        ids = pop.node_ids
        tids = pop.node_type_ids
        gids = pop._pop_array("node_group_id", None)
        for t in np.unique(tids).tolist():
            if t in self._node_types:
                raise BuilderError("import_nodes", f"node types not defined yet in {self.name}", f"type {t} exists")
        for (t, g) in sorted({(int(a), int(b)) for a, b in zip(tids, gids)}):
            sel = np.flatnonzero((tids == t) & (gids == g))
            cols = {a: pop.column(a, ids[sel]) for a in pop.layout.groups[g].attributes}
            if pop.layout.groups[g].has_positions:
                cols["positions"] = pop.positions(ids[sel])
            shared = dict(type_props.get(t, {}))
            self._node_types[t] = {**shared, "node_type_id": t}
            self._sets.append(NodeSetSpec(len(sel), t, cols, shared, ids[sel]))
        self._next_type_id = max([self._next_type_id] + [k + 1 for k in self._node_types])
        pop.close()
        self._invalidate()

    # ---------------------------------------------------------------- edges
    def add_edges(self, source: NodeSelector = None, target: NodeSelector = None, connection_rule: RuleLike = 1,
                  connection_params: dict | None = None, iterator: str = "one_to_one",
                  **edge_type_properties: Any) -> ConnectionMap:
        """Connect ``source`` nodes to ``target`` nodes; one call is one edge type.

        Parameters
        ----------
        source, target : dict, NodePool, node ids or Selection, optional
            Selectors: property values (a value or a list), ``other.nodes(...)`` of another
            builder (edges between networks), or node ids; all nodes when omitted.
        connection_rule : int, callable, list, or ConnectionRule
            Synapses per pair (int), bmtk's per-pair callable (called with node dicts and
            ``connection_params``), a list of counts, or a vectorised rule such as
            :class:`~modelkit.builder.connectors.FixedProbability`.
        connection_params : dict, optional
            Keyword arguments of a callable rule.
        iterator : {"one_to_one", "one_to_all", "all_to_one"}
            How a callable rule is called (per pair, per source, per target).
        **edge_type_properties
            Shared properties (``syn_weight``, ``delay`` in ms, ``dynamics_params``,
            ``model_template``, ...), written to the edge-types CSV.

        Returns
        -------
        ConnectionMap
            Call ``add_properties`` on it for per-edge values.

        Raises
        ------
        BuilderError
            Naming the argument: an unknown iterator, a bad rule or selector.
        """
        if connection_params is not None and not isinstance(connection_params, dict):
            raise BuilderError("connection_params", "a dict of keyword arguments", type(connection_params).__name__)
        src = resolve_pool(source, self, "source")
        tgt = resolve_pool(target, self, "target")
        props = dict(edge_type_properties)
        if props.get("is_gap_junction") and src.network is not tgt.network:
            raise BuilderError("add_gap_junctions", "source and target in the same network",
                               f"{src.network_name} -> {tgt.network_name}")
        if "nsyns" in props:
            connection_rule = props.pop("nsyns")
        rule = as_rule(connection_rule, connection_params, iterator)
        et = props.get("edge_type_id")
        taken = {m.edge_type_id for m in self._maps}
        if et is None:
            while self._next_edge_type_id in taken:
                self._next_edge_type_id += 1
            et = self._next_edge_type_id
            self._next_edge_type_id += 1
        elif int(et) in taken:
            raise BuilderError("add_edges(edge_type_id)", "a new edge type id", f"{et} exists")
        props["edge_type_id"] = int(et)
        props["source_query"] = src.filter_str
        props["target_query"] = tgt.filter_str
        cm = ConnectionMap(src, tgt, rule, props, iterator)
        self._maps.append(cm)
        self._built = None
        return cm

    def add_gap_junctions(self, source: NodeSelector = None, target: NodeSelector = None, resistance: float = 1.0,
                          conductance: float | None = None, distance_range: tuple[float, float] = (0.0, 300.0),
                          target_sections: Sequence[str] = ("somatic",), connection_rule: RuleLike = 1,
                          iterator: str = "one_to_one",
                          **edge_type_properties: Any) -> ConnectionMap:
        """Electrical synapses between nodes of this network (``syn_weight`` = conductance in µS).

        Written as a spec SONATA edge population ``<src>_to_<tgt>_gap_junctions`` (its own
        file), one row per junction with ``efferent_junction_id`` / ``afferent_junction_id``,
        edge type property ``is_gap_junction`` = True.

        Parameters
        ----------
        resistance : float
            MΩ (used when ``conductance`` is not given).
        conductance : float, optional
            µS.
        """
        if conductance is None and not resistance > 0:
            raise BuilderError("add_gap_junctions(resistance)", "a positive resistance in MΩ", repr(resistance))
        syn_weight = 1.0 / resistance if conductance is None else conductance
        return self.add_edges(source=source, target=target, connection_rule=connection_rule, iterator=iterator,
                              syn_weight=syn_weight, is_gap_junction=True, distance_range=list(distance_range),
                              target_sections=list(target_sections), **edge_type_properties)

    def edges(self, target_nodes: NodeSelector = None, source_nodes: NodeSelector = None,
              target_network: str | None = None,
              source_network: str | None = None, **properties: Any) -> list[Edge]:
        """Built edges that match, as a list of bmtk-style :class:`~modelkit.builder.edge_view.Edge` objects.

        For inspection (bmtk's accessor), not for 10^8 edges: read ``build().edges`` columns instead.

        Parameters
        ----------
        target_nodes, source_nodes : int, list of ids, dict of properties or NodePool, optional
            A dict queries this builder's nodes (or those of ``target_network`` / ``source_network``).
        target_network, source_network : str, optional
            Only edges onto / from that network.
        **properties
            Only edges whose property equals the value (an edge without the property does not match).

        Returns
        -------
        list of Edge
            Dicts with attribute access to ``source_node_id``, ``target_node_id``, ``edge_type_id``.

        Examples
        --------
        >>> net.edges(source_nodes={"ei": "e"}, syn_type="e2i")[0].target_node_id   # doctest: +SKIP
        """
        net = self.build() if self._built is None else self._built
        networks: dict[str, Any] = {self.name: self}
        for m in self._maps:
            networks.setdefault(m.source_network_name, m.source_nodes.network)
            networks.setdefault(m.target_network_name, m.target_nodes.network)
        return select_edges(net, self, networks, target_nodes, source_nodes, target_network, source_network,
                            properties)

    # ---------------------------------------------------------------- build
    def _invalidate(self) -> None:
        self._table_cache = None
        self._built = None

    def clear(self) -> None:
        """Forget built nodes and edges (the specification is kept)."""
        self._invalidate()

    def _edge_groups(self) -> dict[tuple[str, str, bool], list[ConnectionMap]]:
        out: dict[tuple[str, str, bool], list[ConnectionMap]] = {}
        for m in self._maps:
            out.setdefault((m.source_network_name, m.target_network_name, m.is_gap_junction), []).append(m)
        return out

    def build(self, force: bool = False, *, _workdir: str | None = None) -> Network:
        """Generate nodes and edges into a private work folder and return them as a Network.

        The returned :class:`~modelkit.sonata.Network` reads the files lazily (a
        simulation can run on it directly); :meth:`save` publishes them.

        The work folder is ``$TMPDIR/modelkit-build-<name>-<pid>-...``, removed with the builder; the
        folders a killed process left there are removed by the next build.  (:meth:`save` without a
        build before builds in its staging folder, next to the target, instead.)

        Parameters
        ----------
        force : bool, optional
            Build again even when built.

        Raises
        ------
        BuilderError
            Rules returning bad shapes or negative counts, property arrays of the wrong length.
        """
        if self._built is not None and not force:
            return self._built
        self._new_workdir(_workdir)
        assert self._workdir is not None
        table = self._table()
        files: dict[str, str] = {}
        nodes_h5 = os.path.join(self._workdir, f"{self.name}_nodes.h5")
        nodes_csv = os.path.join(self._workdir, f"{self.name}_node_types.csv")
        write_nodes(nodes_h5, [self._nodes_data(table)], overwrite=True)
        write_types_csv(nodes_csv, self._node_types_table(), overwrite=True)
        files["nodes"], files["node_types"] = nodes_h5, nodes_csv
        n_syns = 0
        junction_next = 0
        with global_rng_state():
            for (src_net, tgt_net, gap), maps in self._edge_groups().items():
                src_tab = maps[0].source_nodes.network._table()
                tgt_tab = maps[0].target_nodes.network._table()
                stem = f"{src_net}_{tgt_net}" + ("_gap_junctions" if gap else "")
                pop = f"{src_net}_to_{tgt_net}" + ("_gap_junctions" if gap else "")
                h5_path = os.path.join(self._workdir, f"{stem}_edges.h5")
                csv_path = os.path.join(self._workdir, f"{stem}_edge_types.csv")
                res = generate_edges(h5_path, pop, maps, src_tab, tgt_tab, src_net, tgt_net,
                                     np.random.SeedSequence(self._seed_seq.entropy,
                                                            spawn_key=(0xED6E, len(files))),
                                     self.targets_per_block, reseed_globals=self._explicit_seed,
                                     junction_ids=gap, junction_start=junction_next)
                if gap:
                    junction_next += 2 * res.n_edges
                write_types_csv(csv_path, _edge_types_table(maps), overwrite=True)
                files[f"edges:{stem}"] = h5_path
                files[f"edge_types:{stem}"] = csv_path
                n_syns += res.n_syns
                if res.n_edges == 0:
                    log.warning("%s -> %s: the connection rules made no edges (an empty edge population is "
                                "written)", src_net, tgt_net)
        self._n_syns = n_syns
        self._files = files
        self._built = self._network()
        return self._built

    def _network(self) -> Network:
        from modelkit.sonata import read_types_csv
        from modelkit.sonata.edges import EdgePopulation
        from modelkit.sonata.nodes import NodePopulation
        nodes = {self.name: NodePopulation(self._files["nodes"], self.name,
                                           read_types_csv(self._files["node_types"], "node_type_id"))}
        edges = {}
        for key, path in self._files.items():
            if key.startswith("edges:"):
                stem = key[len("edges:"):]
                t = read_types_csv(self._files[f"edge_types:{stem}"], "edge_type_id")
                from modelkit.sonata.network import _population_names
                for pname in _population_names(path, "edges"):
                    edges[pname] = EdgePopulation(path, pname, t)
        return Network(nodes, edges, path=self._workdir)

    def _new_workdir(self, workdir: str | None = None) -> None:
        """A work folder for a build: ``workdir`` (a save's staging folder, which the save removes) or a
        new one in TMPDIR, named after this process so that the next build removes it if a kill left it."""
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None
        if workdir is not None:
            self._workdir = workdir
            return
        tmp = tempfile.gettempdir()
        sweep_dead_workdirs(tmp)
        self._workdir = os.path.join(tmp, f"{WORK_PREFIX}{safe_name(self.name)}-{owner_tag()}")
        os.mkdir(self._workdir, 0o700)
        self._finalizer = weakref.finalize(self, shutil.rmtree, self._workdir, True)

    def _close_built(self) -> None:
        if self._built is not None:
            self._built.close()

    def _nodes_data(self, table: NodeTable) -> NodePopulationData:
        keys: dict[tuple[str, ...], int] = {}
        for s in self._sets:
            keys.setdefault(s.group_key(), len(keys))
        gid = np.empty(table.size, np.int64)
        gidx = np.empty(table.size, np.int64)
        groups: dict[int, GroupData] = {}
        members: dict[int, list[int]] = {}
        for k, s in enumerate(self._sets):
            members.setdefault(keys[s.group_key()], []).append(k)
        for g, set_idx in members.items():
            offset = 0
            cols: dict[str, list] = {c: [] for c in self._sets[set_idx[0]].group_key()}
            for k in set_idx:
                s = self._sets[k]
                a, b = table.offsets[k], table.offsets[k + 1]
                gid[a:b] = g
                gidx[a:b] = np.arange(offset, offset + s.n)
                offset += s.n
                for c in cols:
                    cols[c].append(s.per_node[c])
            groups[g] = GroupData({c: _concat(v, f"add_nodes({c})") for c, v in cols.items()}, size=offset)
        return NodePopulationData(self.name, table.type_ids, groups, gid, gidx, table.ids)

    def _node_types_table(self) -> TypesTable:
        cols: dict[str, None] = {}
        for props in self._node_types.values():
            cols.update(dict.fromkeys(k for k in props if k != "node_type_id"))
        ids = np.array(list(self._node_types), dtype=np.int64)
        data = {c: _object_column([self._node_types[t].get(c) for t in ids.tolist()]) for c in cols}
        return TypesTable(None, "node_type_id", ids, data)

    # ----------------------------------------------------------------- save
    def save(self, output_dir: PathLike = ".", force_overwrite: bool = True, mode: str = "w",
             compression: CompressionLike = None,
             **opts: Any) -> None:
        """Write ``<name>_nodes.h5``, ``<name>_node_types.csv`` and every ``<src>_<tgt>_edges.h5`` /
        ``_edge_types.csv`` into ``output_dir``, all or nothing (builds first if needed).

        The files are one set (:mod:`modelkit.sonata.fileset`): they are written into a staging folder
        ``output_dir/.<name>.saving-<pid>-...``, committed, then moved over the old ones.  A process killed
        at any point leaves the whole old network or, once the next save or load of the folder has
        completed the interrupted one, the whole new one; nothing else in ``output_dir`` is touched.  When
        the builder is not built yet, the build itself happens inside the staging folder (its edge streams
        never go to TMPDIR), and the builder then reads the published files.

        ``compression`` applies to every dataset of the HDF5 files, as in bmtk; modelkit's default is
        uncompressed (bmtk's is gzip), faster to write and to read.

        Parameters
        ----------
        output_dir : str or PathLike, optional
            Folder to write into (created when missing).
        force_overwrite : bool, optional
            Replace existing files of the network (logged); else refuse them (bmtk's default is True).
        mode : str, optional
            bmtk's file mode; accepted for compatibility, files are always written anew.
        compression : str or int, optional
            ``"gzip"``, ``"lzf"``, a gzip level 0-9, or None / ``"none"`` (uncompressed, the default).
        **opts
            Other bmtk keywords, accepted and ignored.

        Raises
        ------
        OutputExistsError
            A file of the network exists and ``force_overwrite`` is false (checked before building).
        """
        out = os.path.abspath(os.fspath(output_dir))
        normalize_compression(compression)  # a bad value fails before a long build
        if not self._maps:  # normal for an input population (virtual nodes): information, not a warning
            log.info("%s: no edges have been added; no edges file written", self.name)
        if self._built is not None:
            items: list[tuple[str, str, str | None]] = [(v, os.path.join(out, os.path.basename(v)), None)
                                                        for v in self._files.values()]
            publish_set(items, self.name, force_overwrite, compression)
            return
        names = [f"{self.name}_nodes.h5", f"{self.name}_node_types.csv"]
        for stem in self._edge_groups_by_stem():
            names += [f"{stem}_edges.h5", f"{stem}_edge_types.csv"]
        with FileSet(out, self.name, overwrite=force_overwrite) as fs:
            for n in names:
                fs.path(n)
            if not force_overwrite and fs.existing():  # before a build that may take hours
                raise OutputExistsError(f"{out}: {fs.existing()} exist; refusing to overwrite them "
                                        f"(pass force_overwrite=True)")
            for n in fs.existing():
                log.warning("replacing %s", os.path.join(out, n))
            assert fs.staging is not None
            try:
                self.build(_workdir=fs.staging)
                if normalize_compression(compression)[0] is not None:
                    for n in names:
                        if n.endswith(".h5"):
                            compress_in_place(fs.path(n), compression)
                fs.commit()
            except BaseException:
                self._close_built()
                self._built = None
                raise
        # the staging folder is gone: read the published files from now on
        self._close_built()
        self._files = {k: os.path.join(out, os.path.basename(v)) for k, v in self._files.items()}
        self._workdir = out
        self._built = self._network()

    def save_nodes(self, nodes_file_name: PathLike | None = None, node_types_file_name: PathLike | None = None,
                   output_dir: PathLike = ".", force_overwrite: bool = True, mode: str = "w",
                   compression: CompressionLike = None, **opts: Any) -> None:
        """Write the nodes file and node-types CSV (default names ``<name>_nodes.h5`` / ``_node_types.csv``),
        both or neither (see :meth:`save`, also for ``compression``).

        Parameters
        ----------
        nodes_file_name : str or PathLike, optional
            Nodes file name; ``<name>_nodes.h5`` when omitted.
        node_types_file_name : str or PathLike, optional
            Node-types CSV name; ``<name>_node_types.csv`` when omitted.
        output_dir, force_overwrite, mode, compression, **opts
            As :meth:`save`.
        """
        normalize_compression(compression)
        if self._built is None:
            self.build()
        out = os.fspath(output_dir)
        publish_set([(self._files["nodes"], target_path(nodes_file_name, out, f"{self.name}_nodes.h5"), None),
                      (self._files["node_types"],
                       target_path(node_types_file_name, out, f"{self.name}_node_types.csv"), None)],
                     self.name, force_overwrite, compression)

    def save_edges(self, edges_file_name: PathLike | None = None, edge_types_file_name: PathLike | None = None,
                   output_dir: PathLike = ".",
                   src_network: str | None = None, trg_network: str | None = None, name: str | None = None,
                   force_build: bool = True, force_overwrite: bool = True, compression: CompressionLike = None,
                   **opts: Any) -> None:
        """Write the edges files (default names ``<src>_<tgt>_edges.h5`` / ``_edge_types.csv``), all or
        none (see :meth:`save`, also for ``compression``).

        ``src_network`` / ``trg_network`` restrict which network pairs are written; with
        explicit file names exactly one pair must remain.  ``name`` renames the edge population.

        Parameters
        ----------
        edges_file_name : str or PathLike, optional
            Edges file name; ``<src>_<tgt>_edges.h5`` when omitted.
        edge_types_file_name : str or PathLike, optional
            Edge-types CSV name; ``<src>_<tgt>_edge_types.csv`` when omitted.
        src_network : str, optional
            Write only edges from this network.
        trg_network : str, optional
            Write only edges onto this network.
        name : str, optional
            Edge population name (one network pair only).
        force_build : bool, optional
            Build first when not built.
        output_dir, force_overwrite, compression, **opts
            As :meth:`save`.
        """
        normalize_compression(compression)
        if not self._maps:
            log.warning("%s: no edges have been added; no edges file written", self.name)
            return
        if self._built is None:
            if not force_build:
                log.warning("%s: edges are not built (call build()); nothing written", self.name)
                return
            self.build()
        out = os.fspath(output_dir)
        stems = [k[len("edges:"):] for k in self._files if k.startswith("edges:")]
        pairs = [(s, m) for s, m in ((s, self._edge_groups_by_stem()[s]) for s in stems)
                 if (src_network is None or m[0] == src_network) and (trg_network is None or m[1] == trg_network)]
        if (edges_file_name or edge_types_file_name or name) and len(pairs) != 1:
            raise BuilderError("save_edges", "src_network/trg_network selecting one network pair for explicit names",
                               f"{len(pairs)} pairs")
        items: list[tuple[str, str, str | None]] = []
        for stem, _ in pairs:
            items.append((self._files[f"edges:{stem}"], target_path(edges_file_name, out, f"{stem}_edges.h5"), name))
            items.append((self._files[f"edge_types:{stem}"],
                          target_path(edge_types_file_name, out, f"{stem}_edge_types.csv"), None))
        publish_set(items, self.name, force_overwrite, compression)

    def _edge_groups_by_stem(self) -> dict[str, tuple[str, str]]:
        out = {}
        for (s, t, gap) in self._edge_groups():
            out[f"{s}_{t}" + ("_gap_junctions" if gap else "")] = (s, t)
        return out

    def __repr__(self) -> str:
        return (f"<NetworkBuilder {self.name!r}: {self.nnodes} nodes in {len(self._sets)} node types, "
                f"{len(self._maps)} edge types>")


# ------------------------------------------------------------------- helpers
def _as_column(value: Any, where: str) -> np.ndarray:
    a = np.asarray(value)
    if a.dtype.kind == "U":
        a = a.astype(object)
    if a.dtype.kind not in "biufO":
        raise BuilderError(where, "numbers, booleans or strings", f"dtype {a.dtype}")
    return a


def _concat(parts: list[np.ndarray], where: str) -> np.ndarray:
    if not parts:
        return np.empty(0)
    try:
        return np.concatenate(parts)
    except ValueError as e:
        raise BuilderError(where, "values of one shape across add_nodes calls that share a group", str(e)) from e


def _object_column(values: list) -> np.ndarray:
    a = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        a[i] = v
    return a


def _edge_types_table(maps: list[ConnectionMap]) -> TypesTable:
    first = ["target_query", "source_query"]
    cols: dict[str, None] = dict.fromkeys(first)
    for m in maps:
        cols.update(dict.fromkeys(k for k in m.edge_type_properties if k not in ("edge_type_id",)))
    ids = np.array([m.edge_type_id for m in maps], dtype=np.int64)
    data = {c: _object_column([m.edge_type_properties.get(c) for m in maps]) for c in cols}
    return TypesTable(None, "edge_type_id", ids, data)


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _is_null(v: Any) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v))

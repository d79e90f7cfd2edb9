"""HTML bodies for ``_repr_html_`` in notebooks, built from plain strings.  Leaf module."""

from __future__ import annotations

import html
from typing import Any

from modelkit._typing import PathLike

__all__ = ["population_html", "network_html", "config_html", "table_html"]

_STYLE = ("<style>.mk-box{font-family:var(--jp-ui-font-family,sans-serif);font-size:12px}"
          ".mk-box table{border-collapse:collapse;margin:2px 0 6px 0}"
          ".mk-box td,.mk-box th{border:1px solid #ddd;padding:2px 6px;text-align:left}"
          ".mk-box th{background:#f4f4f4}.mk-box summary{cursor:pointer;font-weight:600}</style>")


def _e(x: Any) -> str:
    return html.escape(str(x))


def table_html(rows: list[list[Any]], header: list[str]) -> str:
    """An HTML table from rows of cells (escaped).

    Parameters
    ----------
    rows : list of list[Any]
        Cells, row by row (any value; shown escaped).
    header : list of str
        Column titles.
    """
    h = "".join(f"<th>{_e(c)}</th>" for c in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{h}</tr>{body}</table>"


def _types_table(counts: dict[Any, int], label: str, limit: int = 30) -> str:
    items = list(counts.items())
    rows = [[k, v] for k, v in items[:limit]]
    more = f"<div>... {len(items) - limit} more</div>" if len(items) > limit else ""
    return table_html(rows, [label, "count"]) + more


def population_html(s: dict[str, Any]) -> str:
    """Summary of one node or edge population (from its ``summary()`` dict).

    Parameters
    ----------
    s : dict
        A population's ``summary()``.
    """
    if s["kind"] == "nodes":
        title = f"Node population <b>{_e(s['name'])}</b>: {s['count']:,} nodes"
        body = _types_table(s["node_types"], "node_type_id")
    else:
        title = (f"Edge population <b>{_e(s['name'])}</b>: {s['count']:,} edges, "
                 f"{_e(s.get('source'))} &rarr; {_e(s.get('target'))}")
        body = _types_table(s["edge_types"], "edge_type_id")
    attrs = ", ".join(_e(a) for a in s.get("attributes", []))
    return (f"{_STYLE}<div class='mk-box'><div>{title}</div><div>file: <code>{_e(s['path'])}</code></div>"
            f"<details><summary>types</summary>{body}</details>"
            f"<details><summary>attributes</summary>{attrs}</details></div>")


def network_html(path: PathLike | None, s: dict[str, Any]) -> str:
    """Summary of a whole network (from ``Network.summary()``).

    Parameters
    ----------
    path : str or PathLike, optional
        The network's config or folder; none for one built in memory.
    s : dict
        ``Network.summary()``.
    """
    nrows = [[n, f"{d['count']:,}", len(d["node_types"]),
              ", ".join(f"{k}: {v}" for k, v in d.get("model_types", {}).items())] for n, d in s["nodes"].items()]
    erows = [[n, f"{d['count']:,}", d.get("source"), d.get("target"), len(d["edge_types"])]
             for n, d in s["edges"].items()]
    ns = ", ".join(_e(x) for x in s.get("node_sets", [])) or "(none)"
    return (f"{_STYLE}<div class='mk-box'><div><b>Network</b> <code>{_e(path)}</code></div>"
            f"<div>Node populations</div>{table_html(nrows, ['population', 'nodes', 'node types', 'model types'])}"
            f"<div>Edge populations</div>"
            f"{table_html(erows, ['population', 'edges', 'source', 'target', 'edge types'])}"
            f"<div>Node sets: {ns}</div></div>")


def config_html(title: str, path: PathLike | None, fields: dict[str, Any]) -> str:
    """Summary of a config: a title, its file, and a few fields (lists and dicts shown as tables).

    Parameters
    ----------
    title : str
        Heading (the config's class).
    path : str or PathLike, optional
        The config file; none for one built in code.
    fields : dict
        Field name -> value to show.
    """
    parts = [f"{_STYLE}<div class='mk-box'><div><b>{_e(title)}</b> <code>{_e(path)}</code></div>"]
    for k, v in fields.items():
        if isinstance(v, dict):
            parts.append(f"<details open><summary>{_e(k)}</summary>"
                         f"{table_html([[a, b] for a, b in v.items()], ['key', 'value'])}</details>")
        elif isinstance(v, list):
            parts.append(f"<details open><summary>{_e(k)}</summary>"
                         + "".join(f"<div><code>{_e(x)}</code></div>" for x in v) + "</details>")
        else:
            parts.append(f"<div>{_e(k)}: <code>{_e(v)}</code></div>")
    parts.append("</div>")
    return "".join(parts)

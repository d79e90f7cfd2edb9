"""REST handlers of the modelkit server extension: thin, authenticated wrappers over the public API.

Every verb is ``@tornado.web.authenticated``; file paths come from the browser relative to the
server root and go through :func:`~modelkit.labserver.paths.resolve`.  Errors answer with
``{"error": message}`` and a 4xx status: 400 bad request, 403 outside the root or not writable,
404 missing, 409 nothing to preview, 422 a file modelkit cannot read.  File work runs in a thread
so a large file never blocks the server.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from modelkit.errors import ModelkitError
from modelkit.labserver.confine import OUTSIDE, check_h5_confined, scrub
from modelkit.labserver.notebook import notebook_cells, write_new_notebook
from modelkit.labserver.paths import PathRefused, relative, resolve
from modelkit.labserver.preview import preview_data, preview_png, preview_source

__all__ = ["setup_handlers", "tutorials_dir"]

#: where "modelkit tutorials" are copied inside the server root
TUTORIALS_FOLDER = "modelkit-tutorials"


def tutorials_dir() -> Path | None:
    """The tutorial notebooks: ``notebooks/`` of a source checkout, else ``<prefix>/share/modelkit/notebooks``."""
    import modelkit
    for cand in (Path(modelkit.__file__).resolve().parent.parent / "notebooks",
                 Path(sys.prefix) / "share" / "modelkit" / "notebooks"):
        if cand.is_dir():
            return cand
    return None


class _Base(APIHandler):
    """Common plumbing: the root, JSON errors, work in a thread."""

    @property
    def root(self) -> str:
        return os.path.realpath(self.settings["server_root_dir"])

    def fail(self, status: int, message: str) -> None:
        self.set_status(status)
        self.finish(json.dumps({"error": scrub(message, self.root)}))

    def reply(self, data: dict[str, Any]) -> None:
        """Answer ``data`` as JSON, with every path in it relative to the root or redacted (see ``scrub``)."""
        self.finish(json.dumps(_scrubbed(data, self.root), default=str))

    def resolve_arg(self, name: str = "path", value: str | None = None, **kw: Any) -> str:
        return resolve(self.root, value if value is not None else self.get_argument(name, None), what=name, **kw)

    def rel(self, p: str | None) -> str | None:
        """A path as the browser sees it: relative when inside the root, else as is."""
        if p is None:
            return None
        real = os.path.realpath(p)
        if real == self.root or os.path.commonpath([real, self.root]) == self.root:
            return relative(self.root, real)
        return OUTSIDE

    async def confined(self, path: str) -> None:
        """Refuse (403) an HDF5 file whose links, virtual datasets or external storage reach outside the root."""
        await self.run(check_h5_confined, path, self.root, self.rel(path))

    async def run(self, fn: Any, *args: Any, **kw: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, lambda: fn(*args, **kw))

    def body(self, **fields: bool) -> dict[str, Any]:
        """The request's JSON object, with each of ``fields`` (name -> required) a string or absent.

        Raises
        ------
        PathRefused
            400: too large, not JSON, not an object, or a field of the wrong type (the message names it).
        """
        raw = self.request.body or b"{}"
        if len(raw) > MAX_BODY:
            raise PathRefused(400, f"the request body has {len(raw)} bytes; at most {MAX_BODY} are read")
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as e:  # RecursionError: nesting deeper than the parser's stack
            raise PathRefused(400, f"the request body is not JSON: {str(e)[:200]}") from e
        if not isinstance(data, dict):
            raise PathRefused(400, f"the request body must be a JSON object, not {type(data).__name__}")
        for name, required in fields.items():
            v = data.get(name)
            if v is None and not required:
                continue
            if not isinstance(v, str):
                raise PathRefused(400, f"'{name}' must be a string (a path relative to the server root), "
                                       f"not {'missing' if v is None else type(v).__name__}")
        return data

    def bounded_int(self, name: str, default: int, low: int, high: int) -> int:
        """A query argument that must be a whole number in [low, high] (400 otherwise)."""
        raw = self.get_argument(name, None)
        if raw is None:
            return default
        try:
            v = int(raw)
        except ValueError:
            v = None
        if v is None or not low <= v <= high:
            raise PathRefused(400, f"'{name}' must be a whole number from {low} to {high}, not {raw[:40]!r}")
        return v


#: request bodies are small JSON objects; anything larger is refused before parsing
MAX_BODY = 1 << 20
#: preview limits a request may ask for: (default, lowest, highest)
PREVIEW_LIMITS = {"max_points": (20_000, 1, 1_000_000), "max_traces": (10, 1, 200), "max_frames": (2_000, 1, 100_000)}


def _scrubbed(data: Any, root: str) -> Any:
    if isinstance(data, str):
        return scrub(data, root)
    if isinstance(data, dict):
        return {k: _scrubbed(v, root) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_scrubbed(v, root) for v in data]
    return data


def _describe(path: str, root: str, shown: str) -> dict[str, Any]:
    from modelkit.sonata.describe import describe
    check_h5_confined(path, root, shown)
    for f, key in _files_named(path):
        if os.path.commonpath([os.path.realpath(f), root]) != root:
            raise PathRefused(403, f"a file that {shown!r} names ({key}) is outside the server root")
        check_h5_confined(f, root, f"{shown}: {key}")
    return describe(path, node_types_table=True)


def _files_named(path: str) -> list[tuple[str, str]]:
    """The network files a config names, with their keys; none if ``path`` is no config (describe reports
    unreadable configs itself)."""
    if not path.endswith(".json"):
        return []
    from modelkit.sonata import load_config
    try:
        cfg = load_config(path)
    except (ModelkitError, OSError, ValueError):
        return []
    circuit = getattr(cfg, "circuit", None) or cfg
    named: list[tuple[str | None, str]] = [(getattr(cfg, "network", None), "network"),
                                           (getattr(circuit, "node_sets_file", None), "node_sets_file"),
                                           (getattr(cfg, "node_sets_file", None), "node_sets_file")]
    for section in ("nodes", "edges"):
        for e in getattr(circuit, section, ()):
            named += [(e.file, f"networks.{section}"), (e.types_file, f"networks.{section}")]
    return [(f, key) for f, key in named if f]


class InfoHandler(_Base):
    """``GET modelkit/info?path=``: what the viewer shows (``modelkit info --json`` + node-types tables)."""

    @tornado.web.authenticated
    async def get(self) -> None:
        try:
            p = self.resolve_arg()
            if os.path.isdir(p):
                raise PathRefused(400, f"{self.rel(p)!r} is a folder; give a config or SONATA file")
            d = await self.run(_describe, p, self.root, self.rel(p))
        except PathRefused as e:
            return self.fail(e.status, e.message)
        except (ModelkitError, OSError) as e:
            return self.fail(422, f"{type(e).__name__}: {e}")
        d["path"] = self.rel(d["path"])
        for section in ("nodes", "edges"):
            for v in d[section].values():
                v["file"] = self.rel(v.get("file"))
        for pr in d["problems"]:
            pr["path"] = self.rel(pr.get("path"))
        if "output_dir" in d:
            d["output_dir"] = self.rel(d["output_dir"])
        try:
            src = preview_source(p, d["kind"])
        except (ModelkitError, OSError):
            src = None
        d["preview"] = None if src is None else {"type": src[1], "path": self.rel(src[0])}
        self.reply(d)


class PreviewHandler(_Base):
    """``GET modelkit/preview?path=&format=json|png``: raster of a spikes file, traces of a report."""

    @tornado.web.authenticated
    async def get(self) -> None:
        fmt = self.get_argument("format", "json")
        try:
            if fmt not in ("json", "png"):
                raise PathRefused(400, f"format must be 'json' or 'png', not {fmt!r}")
            p = self.resolve_arg()
            limits = {k: self.bounded_int(k, *v) for k, v in PREVIEW_LIMITS.items()}
            await self.confined(p)
            from modelkit.sonata.network import classify_h5
            kind = "simulation_config" if p.endswith(".json") else await self.run(classify_h5, p)
            src = await self.run(preview_source, p, kind)
            if src is None:
                raise PathRefused(409, f"{self.rel(p)!r} ({kind}) has nothing to preview: give a spikes or "
                                       f"report file, or a simulation config whose output exists")
            # the source may come from a config: it must be inside the root as well
            r = self.rel(src[0])
            if r is None or os.path.isabs(r):
                raise PathRefused(403, f"the output of {self.rel(p)!r} ({src[0]}) is outside the server root")
            f = self.resolve_arg(value=r)
            await self.confined(f)
            if fmt == "png":
                png = await self.run(preview_png, f, src[1], max_traces=limits["max_traces"])
                self.finish(png, set_content_type="image/png")
                return
            d = await self.run(preview_data, f, src[1], **limits)
        except PathRefused as e:
            return self.fail(e.status, e.message)
        except ValueError as e:
            return self.fail(400, str(e))
        except (ModelkitError, OSError) as e:
            return self.fail(422, f"{type(e).__name__}: {e}")
        d["path"] = self.rel(f)
        self.reply(d)


class NotebookHandler(_Base):
    """``POST modelkit/notebook {"path", "directory"?}``: a new notebook that loads (and simulates) the file."""

    @tornado.web.authenticated
    async def post(self) -> None:
        try:
            body = self.body(path=True, directory=False)
            p = self.resolve_arg(value=body["path"])
            await self.confined(p)
            folder = self.resolve_arg("directory", body["directory"]) if body.get("directory") is not None \
                else os.path.dirname(p)
            if not os.path.isdir(folder):
                raise PathRefused(400, f"'directory' {self.rel(folder)!r} is not a folder")
            if not os.access(folder, os.W_OK):
                raise PathRefused(403, f"{self.rel(folder) or '.'!r} is not writable; pass a writable 'directory'")
            from modelkit.sonata.network import classify_h5
            if os.path.isdir(p):
                kind = "folder"
            elif p.endswith(".json"):
                from modelkit.sonata import SimulationConfig, load_config
                cfg = await self.run(load_config, p)
                kind = "simulation_config" if isinstance(cfg, SimulationConfig) else "circuit_config"
            else:
                kind = await self.run(classify_h5, p)
            stem = os.path.splitext(os.path.basename(p))[0] or "modelkit"
            cells = notebook_cells(kind, os.path.relpath(p, folder).replace(os.sep, "/"), self.rel(p) or "")
            out = await self.run(write_new_notebook, folder, stem, cells)
        except PathRefused as e:
            return self.fail(e.status, e.message)
        except PermissionError as e:
            return self.fail(403, f"cannot write the notebook: {e}")
        except (ModelkitError, OSError) as e:
            return self.fail(422, f"{type(e).__name__}: {e}")
        self.set_status(201)
        self.reply({"path": self.rel(out), "kind": kind})


class TutorialsHandler(_Base):
    """``GET modelkit/tutorials``: the tutorial notebooks; ``POST``: copy them into the server root."""

    @tornado.web.authenticated
    def get(self) -> None:
        src = tutorials_dir()
        names = sorted(p.name for p in src.glob("*.ipynb")) if src else []
        self.finish(json.dumps({"notebooks": names, "folder": TUTORIALS_FOLDER}))

    @tornado.web.authenticated
    async def post(self) -> None:
        src = tutorials_dir()
        if src is None:
            return self.fail(404, "the tutorial notebooks are not installed with this modelkit")
        there = await self.run(_tutorials_in_root, src, Path(self.root))
        if there is not None:  # `jupyter lab notebooks` (make lab), or a root that holds them: open them there
            names = sorted(p.name for p in there.glob("*.ipynb"))
            return self.reply({"folder": self.rel(str(there)), "notebooks": names, "copied": []})
        try:
            dest = self.resolve_arg("folder", TUTORIALS_FOLDER, must_exist=False)
            copied = await self.run(_copy_new, src, Path(dest))
        except PathRefused as e:
            return self.fail(e.status, e.message)
        except PermissionError as e:
            return self.fail(403, f"cannot copy the tutorials: {e}")
        names = sorted(p.name for p in Path(dest).glob("*.ipynb"))
        self.reply({"folder": self.rel(dest), "notebooks": names, "copied": copied})


def _tutorials_in_root(src: Path, root: Path) -> Path | None:
    """The folder of the server root that already holds the tutorials, if any: the tutorials folder itself
    when it is inside the root (a server started in a source checkout or in ``notebooks/``), or the root
    when every tutorial notebook is there by name (a server started where they were copied before)."""
    src, root = src.resolve(), root.resolve()
    if src == root or root in src.parents:
        return src
    names = {p.name for p in src.glob("*.ipynb")}
    if names and all((root / n).is_file() for n in names):
        return root
    return None


def _copy_new(src: Path, dest: Path) -> list[str]:
    """Copy tutorial files missing from ``dest``; files already there (maybe edited) are kept."""
    dest.mkdir(parents=True, exist_ok=True)
    copied = []
    for f in sorted(src.iterdir()):
        if f.is_file() and not f.name.startswith(".") and not (dest / f.name).exists():
            tmp = dest / f".{f.name}.tmp"
            shutil.copyfile(f, tmp)
            try:
                os.link(tmp, dest / f.name)  # fails if it appeared meanwhile: never overwrite
                copied.append(f.name)
            except FileExistsError:
                pass
            finally:
                tmp.unlink(missing_ok=True)
    return copied


def setup_handlers(web_app: Any, *, runs_dir: str) -> None:
    """Add the routes under the server's ``base_url``.

    Parameters
    ----------
    web_app : tornado.web.Application
        The Jupyter server's web application.
    runs_dir : str
        Folder of the run status files.
    """
    from modelkit.labserver.runs import RUN_ROUTES  # the Run monitor's handlers (they build on _Base here)
    base = url_path_join(web_app.settings["base_url"], "modelkit")
    web_app.settings["modelkit_runs_dir"] = runs_dir
    web_app.add_handlers(".*$", [
        (url_path_join(base, "info"), InfoHandler),
        (url_path_join(base, "preview"), PreviewHandler),
        (url_path_join(base, "notebook"), NotebookHandler),
        *((url_path_join(base, route), handler) for route, handler in RUN_ROUTES),
        (url_path_join(base, "tutorials"), TutorialsHandler),
    ])

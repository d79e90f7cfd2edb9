"""The Python a widget action stands for: one call, written out and run from the same arguments.

A widget builds a :class:`Call` (function, arguments) and both shows ``call.line`` and runs ``call.run()``,
so the code shown is what ran; :func:`network_prelude` is the line that loads the network, so the code,
pasted in a new cell (or run by a test in a fresh interpreter), gives the same figure or table.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Sym", "Call", "network_prelude", "code_html"]


@dataclass(frozen=True)
class Sym:
    """A value written as a variable name in code (``net``), passed as ``obj`` when run."""

    name: str
    obj: Any = field(compare=False)

    def __repr__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Call:
    """``target = module.func(*args, **kwargs)`` (``module`` '' for a name imported as is): the line, and the
    call itself."""

    target: str
    func: Any
    module: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    @property
    def line(self) -> str:
        """The code of the call (arguments as ``repr``; :class:`Sym` values by name)."""
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        where = f"{self.module}." if self.module else ""
        return f"{self.target} = {where}{self.func.__name__}({', '.join(parts)})"

    def run(self) -> Any:
        """Call the function with the arguments (:class:`Sym` values replaced by their objects)."""
        def value(v: Any) -> Any:
            return v.obj if isinstance(v, Sym) else v
        return self.func(*[value(a) for a in self.args], **{k: value(v) for k, v in self.kwargs.items()})


def network_prelude(network: Any) -> list[str]:
    """The lines that load ``network`` (``net = Network.load(...)``), or a comment when it has no file."""
    path = getattr(network, "path", None)
    if path and os.path.exists(path):
        return ["from modelkit import Network", f"net = Network.load({os.fspath(path)!r})"]
    return ["# net: the Network you opened the explorer on (it has no file to load it from)"]


def code_html(code: str) -> str:
    """The code as a ``<pre>`` block for an ``ipw.HTML``."""
    return ("<div style='color:#666;font-size:11px'>the code of this view (paste it in a cell):</div>"
            f"<pre style='font-size:12px;line-height:1.3;margin:2px 0'>{html.escape(code)}</pre>")

"""The modelkit exception tree.

Every error says *where* the problem is: the file, the dataset or key inside it,
and what was expected there.  Leaf module: imports nothing from modelkit.
"""

from __future__ import annotations

import os
from typing import Union

#: a file path as errors take it (modelkit._typing.PathLike; this leaf module imports nothing from modelkit)
_Path = Union[str, "os.PathLike[str]"]

__all__ = [
    "ModelkitError",
    "SonataFormatError",
    "ConfigError",
    "NodeSetError",
    "SelectionError",
    "OutputExistsError",
    "UnknownModelError",
    "BackendUnavailableError",
    "RunStoppedError",
    "BuilderError",
    "ModelkitWarning",
]


def _where(path: object, key: str | None) -> str:
    parts = []
    if path is not None:
        parts.append(os.fspath(path) if isinstance(path, (str, os.PathLike)) else str(path))
    if key:
        parts.append(str(key))
    return ": ".join(parts)


#: characters of an ``expected`` / ``found`` text shown in a message (the attributes keep the whole text): a
#: hostile value (a 1000-character pattern, a huge list) must not bury the message's head
MAX_SHOWN = 400


def _clip(text: str) -> str:
    text = str(text)
    return text if len(text) <= MAX_SHOWN else f"{text[:MAX_SHOWN]}... ({len(text):,} characters)"


def _message(where: str, expected: str, found: str | None, found_word: str = "found",
             clip: bool = True) -> str:
    """``<where>: expected <expected>[, <found_word> <found>]``, each part clipped to MAX_SHOWN characters."""
    show = _clip if clip else str
    msg = f"{show(where)}: expected {show(expected)}"
    return msg if found is None else f"{msg}, {found_word} {show(found)}"


class ModelkitError(Exception):
    """Base class of every error modelkit raises on purpose."""


class _LocatedError(ModelkitError):
    """An error at a place in a file: ``path``, ``where`` inside it, what was ``expected``, what was ``found``.

    Subclasses name ``where`` after what it is in their files (``dataset``, ``key``) with a property, so
    construction, messages and pickling (across ipyparallel engines) are written once, here.
    """

    def __init__(self, path: _Path | None, where: str | None, expected: str, found: str | None = None):
        self.path = os.fspath(path) if isinstance(path, (str, os.PathLike)) else path
        self._where = where
        self.expected = expected
        self.found = found
        super().__init__(_message(_where(path, where), expected, found))

    def __reduce__(self) -> tuple[type, tuple[object, ...]]:  # picklable across ipyparallel engines
        return (type(self), (self.path, self._where, self.expected, self.found))


class _KeyedError(_LocatedError):
    """A located error whose place in the file is a ``key`` (a config key, a column, an argument)."""

    @property
    def key(self) -> str | None:
        """The key at fault (``run.tstop``, ``by``...), or None."""
        return self._where


class SonataFormatError(_LocatedError):
    """A SONATA file (HDF5 or CSV) does not have the layout or content expected.

    Parameters
    ----------
    path : str or PathLike
        The file.
    dataset : str or None
        The HDF5 dataset / group / attribute, or the CSV column or row, at fault.
    expected, found : str
        What should have been there, and what was there instead (``found`` is optional).
    """

    def __init__(self, path: _Path | None, dataset: str | None, expected: str, found: str | None = None):
        super().__init__(path, dataset, expected, found)

    @property
    def dataset(self) -> str | None:
        """The dataset, group, attribute or CSV column at fault, or None."""
        return self._where


class ConfigError(_KeyedError):
    """A circuit / simulation config or node-sets file is malformed or unresolvable.

    Parameters
    ----------
    path : str or PathLike or None
        The JSON file.
    key : str or None
        Dotted path of the offending key (``run.tstop``, ``networks.nodes[0].nodes_file``).
    expected, found : str
        As in :class:`SonataFormatError`.
    """

    def __init__(self, path: _Path | None, key: str | None, expected: str, found: str | None = None):
        super().__init__(path, key, expected, found)


class NodeSetError(ConfigError):
    """A node set is undefined, cyclic or has an invalid rule."""


class SelectionError(ModelkitError):
    """Ids or a query do not select anything valid in a population (e.g. an id out of range)."""


class OutputExistsError(ModelkitError):
    """Refusing to overwrite an existing network or output (pass ``overwrite=True``)."""


class UnknownModelError(ModelkitError):
    """No backend or model handles a ``model_type`` / ``model_template``."""


class BuilderError(ModelkitError, ValueError):
    """A network-builder call got an invalid argument; the message names the argument.

    It is also a ``ValueError``, as the errors bmtk's builder raises for the same mistakes,
    so that bmtk scripts and tests catching ``ValueError`` keep working.

    Parameters
    ----------
    argument : str
        The argument (``connection_rule``, ``iterator``, ``add_nodes(tau_m)``, ...).
    expected : str
        What was expected.
    found : str, optional
        What was given.
    """

    def __init__(self, argument: str, expected: str, found: str | None = None):
        self.argument = argument
        self.expected = expected
        self.found = found
        super().__init__(_message(argument, expected, found, "got", clip=False))

    def __reduce__(self) -> tuple[type, tuple[object, ...]]:
        return (type(self), (self.argument, self.expected, self.found))


class BackendUnavailableError(ModelkitError):
    """A simulator backend cannot be imported; the message gives the install hint."""


class RunStoppedError(ModelkitError):
    """A run stopped on request after a whole block (a Stop button, ``LiveRun.stop()``, the Run monitor).

    :class:`modelkit.cluster.RunStoppedError` (a cluster or child-process run) is a subclass.
    """


class ModelkitWarning(UserWarning):
    """Input that bmtk accepts but that changes the result: the message names the file, key and what was dropped.

    Raised as an error under ``warnings.simplefilter("error", ModelkitWarning)``.
    """

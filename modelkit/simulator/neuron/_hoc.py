"""The one name for NEURON's objects in the NEURON backend's signatures.  Leaf module.

NEURON ships no type stubs: the ``h`` interpreter, its Sections, segments, Vectors, point processes,
NetCons and template instances are all ``hoc.HocObject`` at run time, whose attributes are only known
once the mechanisms are loaded.  Annotations say ``HocObject`` where such an object is meant, so a reader
sees which parameters are NEURON's and which are modelkit's.
"""

from __future__ import annotations

from typing import Any

#: a NEURON object: ``h``, a Section, a segment, a Vector, a point process, a NetCon, a ParallelContext
HocObject = Any

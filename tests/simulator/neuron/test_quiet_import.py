"""Importing NEURON through modelkit on a machine without a display writes nothing to stderr.

NEURON's library prints "Warning: no DISPLAY environment variable." at its first import when there is
no X display (a red box in tutorial 05); modelkit starts it with ``-nogui`` there instead.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("neuron")


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "NEURON_MODULE_OPTIONS")}
    return subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("code", [
    "from modelkit.simulator.neuron import NeuronBackend; assert NeuronBackend.is_available()",
    "from modelkit.simulator.neuron.mechanisms import import_neuron; import_neuron()",
])
def test_no_display_warning_on_stderr(code):
    p = _run(code)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""


def test_the_users_neuron_options_are_kept():
    p = _run("import os; from modelkit.simulator.neuron.mechanisms import import_neuron; import_neuron(); "
             "print(os.environ['NEURON_MODULE_OPTIONS'])", NEURON_MODULE_OPTIONS="-nobanner")
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["-nobanner", "-nogui"] and p.stderr == ""


def test_a_real_error_on_stderr_still_shows():
    """Only NEURON's graphics are turned off: a hoc error still reaches stderr."""
    p = _run("from modelkit.simulator.neuron.mechanisms import import_neuron; h = import_neuron(); "
             "h('undefined_function_xyz()')")
    assert "undefined_function_xyz" in p.stderr

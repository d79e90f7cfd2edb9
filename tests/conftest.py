"""Shared fixtures: the conformance corpus (read in place) and temporary outputs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from modelkit.testing import shared_path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests run last (on each xdist worker too): pytest-playwright's sync API keeps an asyncio loop
    marked running in the main thread until the session ends, and pytest-jupyter's server fixtures
    (tests/jupyter) cannot start their own loop after that."""
    browser = Path(__file__).parent / "browser"
    items.sort(key=lambda item: browser in Path(str(item.fspath)).parents)


@pytest.fixture(scope="session")
def corpus() -> Path:
    """Folder of the SONATA conformance corpus (``shared/sonata/corpus``)."""
    return shared_path("sonata", "corpus")


@pytest.fixture(scope="session")
def expected(corpus: Path) -> dict:
    """EXPECTED.json: facts read from the corpus with independent readers."""
    return json.loads((corpus / "EXPECTED.json").read_text())


@pytest.fixture(scope="session")
def reference() -> Path:
    """bmtk's reference outputs (``shared/reference``)."""
    return shared_path("reference")


@pytest.fixture(scope="session")
def bio_run():
    """``tests/plotting/_bio_run.py`` (bio_14cells and bio_300cells run with NEURON), loaded by its path for the
    test folders that do not have ``tests/plotting`` on ``sys.path``."""
    spec = importlib.util.spec_from_file_location("_bio_run", Path(__file__).parent / "plotting" / "_bio_run.py")
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


@pytest.fixture(scope="session")
def bmtk_examples_dir() -> Path:
    """bmtk's example suite, read-only (``shared/bmtk-examples``); copy before running
    (``modelkit.testing.copy_bmtk_examples``)."""
    p = shared_path("bmtk-examples")
    assert p.is_dir(), f"bmtk's example suite not found at {p}"
    return p


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    """A real single-node Slurm cluster (munged, slurmctld, slurmd) for this test session, its files under a
    temporary folder, ``SLURM_CONF`` set for this process and its children; stopped by pid at the end.

    Installs Debian's slurm-wlm and munge when they are missing (as ``.ci/run`` does); skips only when that
    is impossible (not root, no apt-get, no package)."""
    from modelkit.testing.slurm import LocalSlurm, SlurmUnavailable, install_slurm

    try:
        install_slurm()
    except SlurmUnavailable as e:
        pytest.skip(f"no Slurm for the slurm tests: {e}")
    cluster = LocalSlurm(tmp_path_factory.mktemp("slurm"))
    cluster.start()
    cluster.activate()
    yield cluster
    cluster.stop()

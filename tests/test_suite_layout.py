"""The test tree itself: pytest imports test modules by basename (no packages), so two test files with the same
name in different folders break collection of the whole run ("import file mismatch") - as happened when
tests/widgets and tests/browser both had test_run_params.py."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path


def test_test_module_basenames_are_unique() -> None:
    here = Path(__file__).parent
    where: dict[str, list[str]] = defaultdict(list)
    for path in here.rglob("test_*.py"):
        where[path.name].append(str(path.relative_to(here)))
    clashes = {name: paths for name, paths in where.items() if len(paths) > 1}
    assert not clashes, f"test modules sharing a basename (rename one): {clashes}"

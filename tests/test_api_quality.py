"""The public API says what it takes: few ``Any`` parameters, and numpy-style Parameters sections.

Counted over the public functions and methods of public modules and classes (no leading underscore),
``self`` and ``cls`` left out; run as a script for the figures and the worst files::

    python tests/test_api_quality.py
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "modelkit"

#: the most ``Any`` annotated parameters may be, and the least share of documented public functions with
#: parameters that have a Parameters section (issue 17)
MAX_ANY = 0.10
MIN_PARAMETERS_SECTIONS = 0.80


@dataclass
class ApiFigures:
    annotated: int = 0
    any_params: int = 0
    documented: int = 0
    with_section: int = 0
    any_by_file: Counter = field(default_factory=Counter)
    missing_sections: list[str] = field(default_factory=list)

    @property
    def any_share(self) -> float:
        return self.any_params / max(1, self.annotated)

    @property
    def section_share(self) -> float:
        return self.with_section / max(1, self.documented)


def _has_parameters_section(doc: str) -> bool:
    lines = [ln.strip() for ln in doc.splitlines()]
    return any(a == "Parameters" and b.startswith("---") for a, b in zip(lines, lines[1:]))


def api_figures(package: Path = PACKAGE) -> ApiFigures:
    """Count annotated parameters, ``Any`` ones, and Parameters sections of the public API under ``package``."""
    fig = ApiFigures()

    def visit(body: list[ast.stmt], where: str) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef):
                if not node.name.startswith("_"):
                    visit(node.body, f"{where}:{node.name}")
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if node.name.startswith("_") and node.name != "__init__":
                    continue
                a = node.args
                params = [p for p in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg)
                          if p is not None and p.arg not in ("self", "cls")]
                for p in params:
                    if p.annotation is not None:
                        fig.annotated += 1
                        if ast.unparse(p.annotation) == "Any":
                            fig.any_params += 1
                            fig.any_by_file[where.split(":")[0]] += 1
                doc = ast.get_docstring(node)
                if params and doc and node.name != "__init__":
                    fig.documented += 1
                    if _has_parameters_section(doc):
                        fig.with_section += 1
                    else:
                        fig.missing_sections.append(f"{where}:{node.name}")

    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package.parent)
        if any(part.startswith("_") and part != "__init__.py" for part in rel.parts):
            continue
        visit(ast.parse(path.read_text()).body, str(rel))
    return fig


def test_few_public_parameters_are_any() -> None:
    fig = api_figures()
    worst = ", ".join(f"{f} {n}" for f, n in fig.any_by_file.most_common(8))
    assert fig.any_share < MAX_ANY, f"{fig.any_params}/{fig.annotated} annotated parameters are Any ({worst})"


def test_public_functions_document_their_parameters() -> None:
    fig = api_figures()
    assert fig.section_share >= MIN_PARAMETERS_SECTIONS, (
        f"{fig.with_section}/{fig.documented} documented public functions with parameters have a Parameters "
        f"section; without: {fig.missing_sections[:20]}")


#: the public functions of the interactive loop (issue 19), as a user reaches them: each has Parameters,
#: Returns and Examples sections (a notebook user reads ``help(f)`` for an example before anything else)
LOOP_API = ["modelkit.simulator:simulate", "modelkit.simulator:tunable_parameters",
            "modelkit.sonata:Network.with_edge_params", "modelkit.sonata:Network.with_dynamics",
            "modelkit.sonata:read_morphology", "modelkit.sonata:type_params",
            "modelkit.plotting.plotly:plot_morphology", "modelkit.plotting.plotly:positions",
            "modelkit.plotting.plotly:degree_histogram", "modelkit.analysis:degrees",
            "modelkit.analysis:degree_histogram", "modelkit.analysis:edge_stats", "modelkit.analysis:edge_histogram",
            "modelkit.analysis:connection_probability", "modelkit.analysis:node_positions"]


def test_the_interactive_loops_functions_have_examples() -> None:
    import importlib
    import inspect

    missing = []
    for entry in LOOP_API:
        module, name = entry.split(":")
        obj = importlib.import_module(module)
        for part in name.split("."):
            obj = getattr(obj, part)
        doc = inspect.getdoc(obj) or ""
        lines = [ln.strip() for ln in doc.splitlines()]
        sections = {a for a, b in zip(lines, lines[1:]) if b.startswith("---")}
        missing += [f"{entry} {s}" for s in ("Parameters", "Returns", "Examples") if s not in sections]
    assert missing == []


if __name__ == "__main__":
    fig = api_figures(Path(sys.argv[1]) if len(sys.argv) > 1 else PACKAGE)
    print(f"Any: {fig.any_params}/{fig.annotated} = {fig.any_share:.1%} of annotated public parameters")
    print(f"Parameters sections: {fig.with_section}/{fig.documented} = {fig.section_share:.1%}")
    for f, n in fig.any_by_file.most_common(40):
        print(f"  {n:4d} Any  {f}")
    missing = Counter(m.split(":")[0] for m in fig.missing_sections)
    for f, n in missing.most_common(60):
        print(f"  {n:4d} no Parameters  {f}")

"""Imports point down the layers (see docs/architecture.md), checked from the source.

A service that imported a face, or a face that reached into the store, would still
run; this test is what notices. Every ``import`` counts, including those inside
functions and ``TYPE_CHECKING`` blocks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import jumbe

SOURCE = Path(jumbe.__file__).parent

# layer: the other parts of jumbe it may import (itself always)
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "smpp": set(),
    "metrics": set(),
    "store": {"core"},
    "settings": {"core"},
    "services": {"core", "store", "settings", "metrics"},
    "engine": {"core", "smpp", "services", "store", "settings", "metrics"},
    "faces": {"core", "smpp", "services", "settings", "metrics"},
    "simulators": {"core", "smpp"},
}


def _layer(path: Path) -> str:
    first = path.relative_to(SOURCE).parts[0]
    return first.removesuffix(".py")


def _imported_parts(tree: ast.AST) -> set[str]:
    parts: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "jumbe":  # from jumbe import metrics
                names = [f"jumbe.{alias.name}" for alias in node.names]
        else:
            continue
        parts |= {name.split(".")[1] for name in names if name.startswith("jumbe.")}
    return parts


def _modules() -> list[Path]:
    return sorted(p for p in SOURCE.rglob("*.py") if _layer(p) in ALLOWED)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SOURCE)))
def test_imports_point_down(path: Path) -> None:
    layer = _layer(path)
    wrong = _imported_parts(ast.parse(path.read_text(encoding="utf-8"))) - ALLOWED[layer] - {layer}
    assert not wrong, f"{layer} must not import jumbe.{', jumbe.'.join(sorted(wrong))}"


def test_every_layer_is_checked() -> None:
    """A new top-level package gets a rule here before it gets code."""
    unchecked = (
        {_layer(p) for p in SOURCE.rglob("*.py") if p.parent == SOURCE or p.parent.parent == SOURCE}
        - set(ALLOWED)
        - {"__init__", "__main__", "app", "cli"}
    )
    assert not unchecked


@pytest.mark.parametrize(
    "face", sorted(p.name for p in (SOURCE / "faces").iterdir() if (p / "__init__.py").exists())
)
def test_no_face_imports_another(face: str) -> None:
    """Faces share only the modules at the top of faces/ (the HTTP limits, the access log,
    the typed app state); a rule two faces need belongs in a service."""
    others: set[str] = set()
    for path in (SOURCE / "faces" / face).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                parts = [*node.module.split("."), ""]
                other = parts[2] if parts[:2] == ["jumbe", "faces"] else ""
                if other and other != face and (SOURCE / "faces" / other).is_dir():
                    others.add(other)
    assert not others, f"faces/{face} imports faces/{', faces/'.join(sorted(others))}"

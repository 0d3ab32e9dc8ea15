"""The layer contracts name the domain's modules one by one: a new module must join the list."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_domain_module_is_under_the_purity_contract() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    pure = next(c for c in contracts if c["name"].startswith("The domain is pure"))
    listed = set(pure["source_modules"])
    modules = {
        f"videocall.{p.stem}" for p in (ROOT / "videocall").glob("*.py") if p.stem != "__init__"
    }
    assert modules - listed == set(), "add these domain modules to the contract in pyproject.toml"
    assert listed - modules == set(), "these listed modules no longer exist"


def test_the_edges_are_independent_and_the_app_layer_has_no_adapters() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = {c["name"]: c for c in config["tool"]["importlinter"]["contracts"]}
    edges = contracts["The HTTP and Socket.IO edges do not import each other"]
    assert set(edges["modules"]) == {"web", "signaling"}
    app = contracts["The application layer takes its collaborators as interfaces"]
    assert {"videocall.adapters", "signaling", "web", "media"} <= set(app["forbidden_modules"])


PRODUCT = ("videocall", "signaling", "web", "media", "recording", "server.py")


def _imports_inside_functions(path: Path) -> list[str]:
    found: list[str] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if in_function and isinstance(child, ast.Import | ast.ImportFrom):
                found.append(f"{path.relative_to(ROOT)}:{child.lineno}")
            visit(child, inside)

    visit(ast.parse(path.read_text(), str(path)), False)
    return found


def test_no_imports_inside_functions() -> None:
    """import-linter sees imports inside functions too, but hiding one there is how a cycle
    gets dodged: the guide forbids it, so the layering stays visible at the top of each file."""
    files: list[Path] = []
    for name in PRODUCT:
        target = ROOT / name
        files += [target] if target.is_file() else sorted(target.rglob("*.py"))
    hidden = [where for path in files for where in _imports_inside_functions(path)]
    assert hidden == [], "move these imports to the top of their module"

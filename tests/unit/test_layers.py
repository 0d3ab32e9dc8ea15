"""The layer contracts name the domain's modules one by one: a new module must join the list."""

from __future__ import annotations

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

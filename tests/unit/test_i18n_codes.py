"""Every error code the code can send has Indonesian and English text, and every text key the
pages use exists in both languages: a missing one would put a code or English into the page.

The codes are read from the source, not listed by hand: a new ``code="..."`` fails this test
until ``errors.<code>`` is in ``web/i18n/id.json`` and ``en.json``.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("videocall", "web", "signaling", "media", "recording", "server.py")
I18N = {
    lang: json.loads((ROOT / "web" / "i18n" / f"{lang}.json").read_text()) for lang in ("id", "en")
}
STATIC = ROOT / "web" / "static"


def _strings(node: ast.AST) -> Iterator[str]:
    """String literals an expression can evaluate to (a dict lookup's values and default too)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.Dict):
        for value in node.values:
            yield from _strings(value)
    elif isinstance(node, ast.IfExp):
        yield from _strings(node.body)
        yield from _strings(node.orelse)
    elif isinstance(node, ast.BoolOp):
        for value in node.values:
            yield from _strings(value)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr == "get":  # {"x": "code_a"}.get(kind, "code_b")
            yield from _strings(node.func.value)
            for arg in node.args[1:]:
                yield from _strings(arg)


def _codes_in(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "code":
            yield from _strings(node.value)  # VideoCallError("...", code="x")
        elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            if "code" in names:  # class attribute `code = "x"`, or `code = {...}.get(...)`
                yield from _strings(node.value)
            if any(n.endswith("_ERRORS") for n in names) and isinstance(node.value, ast.Dict):
                for key in node.value.keys:  # codes that come back from a Lua script
                    if key is not None:
                        yield from _strings(key)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "code":
                    yield from _strings(value)  # {"code": "x", "message": ...}


def server_codes() -> dict[str, str]:
    """code -> one file that sends it."""
    found: dict[str, str] = {}
    for name in PACKAGES:
        base = ROOT / name
        files = [base] if base.is_file() else sorted(base.rglob("*.py"))
        for path in files:
            if "migrations" in path.parts or "node_modules" in path.parts:
                continue
            for code in _codes_in(ast.parse(path.read_text(), str(path))):
                found.setdefault(code, str(path.relative_to(ROOT)))
    return found


def page_codes() -> dict[str, str]:
    """Codes the pages raise themselves: fieldError(form, "field", "code"), {code: "x", ...}."""
    found: dict[str, str] = {}
    for path in sorted((STATIC / "js").glob("*.js")):
        text = path.read_text()
        for m in re.finditer(r'fieldError\(\s*\w+\s*,\s*"[^"]+"\s*,\s*"(\w+)"', text):
            found.setdefault(m.group(1), path.name)
        for m in re.finditer(r'\bcode:\s*"(\w+)"', text):
            found.setdefault(m.group(1), path.name)
    return found


def page_keys() -> dict[str, str]:
    """Literal text keys: data-i18n="k", data-i18n-attr="attr:k", t("k"), banner(kind, "k")."""
    found: dict[str, str] = {}
    for path in sorted(STATIC.glob("*.html")):
        text = path.read_text()
        for m in re.finditer(r'data-i18n="([\w.]+)"', text):
            found.setdefault(m.group(1), path.name)
        for m in re.finditer(r'data-i18n-attr="([^"]+)"', text):
            for pair in m.group(1).split(";"):
                found.setdefault(pair.split(":")[1].strip(), path.name)
    for path in sorted((STATIC / "js").glob("*.js")):
        text = path.read_text()
        for m in re.finditer(r'\bt\(\s*"([\w]+\.[\w.]+)"', text):
            found.setdefault(m.group(1), path.name)
        for m in re.finditer(r'banner\(\s*"\w+"\s*,\s*"([\w]+\.[\w.]+)"', text):
            found.setdefault(m.group(1), path.name)
    return found


def _lookup(table: dict[str, object], key: str) -> object:
    node: object = table
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _leaves(node: object, prefix: str = "") -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, f"{prefix}{key}.")
    else:
        yield prefix[:-1]


def test_the_scan_finds_the_codes_it_should() -> None:
    codes = server_codes()
    # One of each way a code is written; if the scan misses these it misses others.
    for code in ("nik_format", "validation_error", "unknown_field", "officer_busy", "rate_limited"):
        assert code in codes, code
    assert len(codes) > 80


@pytest.mark.parametrize("lang", ["id", "en"])
def test_every_server_error_code_has_text(lang: str) -> None:
    missing = {
        code: where
        for code, where in sorted(server_codes().items())
        if not isinstance(_lookup(I18N[lang], f"errors.{code}"), str)
    }
    assert not missing, f"add errors.<code> to web/i18n/{lang}.json for: {missing}"


@pytest.mark.parametrize("lang", ["id", "en"])
def test_every_code_the_pages_raise_has_text(lang: str) -> None:
    missing = [c for c in page_codes() if not isinstance(_lookup(I18N[lang], f"errors.{c}"), str)]
    assert not missing, missing


@pytest.mark.parametrize("lang", ["id", "en"])
def test_every_key_the_pages_use_exists(lang: str) -> None:
    missing = {k: f for k, f in page_keys().items() if not isinstance(_lookup(I18N[lang], k), str)}
    assert not missing, missing


def test_both_languages_have_the_same_keys() -> None:
    ids, ens = set(_leaves(I18N["id"])), set(_leaves(I18N["en"]))
    assert ids - ens == set(), "only in id.json"
    assert ens - ids == set(), "only in en.json"


def test_placeholders_agree_between_languages() -> None:
    for key in _leaves(I18N["id"]):
        id_text, en_text = _lookup(I18N["id"], key), _lookup(I18N["en"], key)
        if isinstance(id_text, str) and isinstance(en_text, str):
            names = re.compile(r"\{(\w+)\}")
            assert set(names.findall(id_text)) == set(names.findall(en_text)), key


def _domain_keys() -> list[str]:
    """Keys the pages build from the domain's own lists (t(`state.${state}`) and the like)."""
    from typing import get_args

    from videocall.outcomes import REASONS, RELEASE_REASONS, ChecklistItem, Result
    from videocall.quality import HintCode
    from videocall.records import RecordState

    keys = [f"{p}.{s.value}" for s in RecordState for p in ("state", "next")]
    keys += [f"{p}.{code}" for code in REASONS for p in ("reason", "preason", "ptodo")]
    keys += [f"{p}.{code}" for code in RELEASE_REASONS for p in ("release_reason", "preleased")]
    keys += [f"checklist.{item.value}" for item in ChecklistItem]
    keys += [f"result_code.{r.value}" for r in Result]
    keys += [f"verdict.{v}" for v in ("too_dark", "too_bright", "blurry")]
    keys += [f"hint.{h}" for h in get_args(HintCode)]
    return keys


@pytest.mark.parametrize("lang", ["id", "en"])
def test_every_domain_value_the_pages_name_has_text(lang: str) -> None:
    missing = [k for k in _domain_keys() if not isinstance(_lookup(I18N[lang], k), str)]
    assert not missing, missing

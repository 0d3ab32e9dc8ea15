"""The attack of issue 13 in real Chromium: a page on another port of the same host (same site,
so the SameSite=Strict staff cookie goes along) tries to reveal a NIK with a text/plain form and
with fetch, and to open the supervisor's Socket.IO. All refused; from our own page it works."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import SUPERVISOR, Server
from tests.support import free_port, make_nik

pytestmark = pytest.mark.e2e

ATTACK = """<!doctype html><title>attack</title>
<iframe name="sink"></iframe>
<form id="form" method="POST" enctype="text/plain" target="sink" action="{reveal}">
  <input name='{{"x":"' value='"}}'>
</form>
<script src="{server}/static/vendor/socket.io.min.js"></script>
<script>
  window.results = {{}};
  document.querySelector("iframe").addEventListener("load", () => {{ results.form = "sent"; }});
  document.getElementById("form").submit();
  fetch("{reveal}", {{method: "POST", credentials: "include", mode: "no-cors",
    headers: {{"Content-Type": "text/plain"}}, body: '{{"x": 1}}'}})
    .then(() => {{ results.fetch = "sent"; }}, () => {{ results.fetch = "failed"; }});
  const socket = io("{server}/officer", {{transports: ["websocket"], reconnection: false}});
  socket.on("connect", () => {{ results.socket = "connected"; }});
  socket.on("connect_error", () => {{ results.socket = "refused"; }});
</script>
"""


@pytest.fixture
def attacker(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Another origin on the same host: a static file server on another port."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}", tmp_path
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def history_actions(page: Page, server: Server, record_id: str) -> list[str]:
    resp = page.request.get(f"{server.url}/api/records/{record_id}")
    assert resp.ok, resp.text()
    return [h["action"] for h in resp.json()["history"]]


def test_other_port_cannot_act_with_the_staff_cookie(
    server: Server, browser: Any, attacker: tuple[str, Path]
) -> None:
    context = browser.new_context(base_url=server.url)
    page = context.new_page()
    own = {"Origin": server.url, "Content-Type": "application/json"}
    login = {"username": SUPERVISOR[0], "password": SUPERVISOR[1]}
    assert page.request.post("/api/auth/login", data=json.dumps(login), headers=own).ok
    person = {"nik": make_nik(), "mobile": "0812-3456-7890", "email": "x@example.co.id"}
    created = page.request.post("/api/participants", data=json.dumps(person), headers=own)
    assert created.status == 201, created.text()
    record_id = created.json()["record"]["id"]
    reveal = f"{server.url}/api/records/{record_id}/reveal-nik"

    origin, directory = attacker
    (directory / "attack.html").write_text(ATTACK.format(reveal=reveal, server=server.url))
    page.goto(f"{origin}/attack.html")
    page.wait_for_function(
        "results.form && results.fetch && results.socket", polling=100, timeout=15_000
    )
    assert page.evaluate("results.socket") == "refused"
    assert "nik_revealed" not in history_actions(page, server, record_id)

    # The same cookie from our own page does reveal (so the refusals above were the origin's).
    page.goto(f"{server.url}/supervisor")
    status = page.evaluate(f"fetch('{reveal}', {{method: 'POST'}}).then(r => r.status)")
    assert status == 200
    assert history_actions(page, server, record_id).count("nik_revealed") == 1
    context.close()

"""The lighting limits the pages use are served from the one place the call uses them."""

from __future__ import annotations

from typing import Any

from videocall.quality import QualityThresholds


async def test_thresholds_served_are_the_calls(client: Any) -> None:
    response = await client.get("/api/quality/thresholds")
    assert response.status == 200
    body = await response.json()
    assert body["lighting"] == QualityThresholds().lighting()
    assert body["lighting"]["formula"] == "bt601"
    spec = await (await client.get("/api/openapi.json")).json()
    assert "/api/quality/thresholds" in spec["paths"]

"""The picture-quality limits the pages use, served from the one place the server uses them
(``videocall.quality.QualityThresholds``), so the pre-call meter and the call agree."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel

from videocall.quality import QualityThresholds
from web.api_records import api


class LightingOut(BaseModel):
    formula: Literal["bt601"]  # mean of 0.299 R + 0.587 G + 0.114 B over the shown picture
    dark_luma_warn: float  # too dark at or below
    dark_luma_bad: float
    bright_luma_warn: float  # too bright at or above
    bright_luma_bad: float
    bright_fraction_warn: float  # or this share of pixels at or above bright_level
    bright_fraction_bad: float
    bright_level: int


class QualityThresholdsOut(BaseModel):
    lighting: LightingOut


@api.route(
    "GET",
    "/api/quality/thresholds",
    summary="Lighting limits and luma formula of the pre-call check and the call",
    tag="participant",
    response=QualityThresholdsOut,
    errors=(),
)
async def get_thresholds(_request: web.Request) -> web.Response:
    lighting = LightingOut.model_validate(QualityThresholds().lighting())
    return web.json_response(QualityThresholdsOut(lighting=lighting).model_dump())


def install(app: web.Application) -> None:
    """The route is on the shared API registry; nothing else to set up."""

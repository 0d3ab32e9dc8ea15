"""Picture quality measures on a grey (luma) image: pure numpy, no I/O.

Shared by the upload check (documents), the live call sampling (media) and, through
``/api/quality/thresholds``, the browser's pre-call meter.

Luma, everywhere: BT.601 on the picture *as shown*, i.e. 8-bit RGB after the decoder's
YUV -> RGB conversion (clipped to 0-255): ``Y' = 0.299 R + 0.587 G + 0.114 B``, 0-255. The page's
meter computes it from a canvas, Pillow's ``"L"`` mode (uploads) is the same formula, and the call's
analysis converts each sampled frame to RGB first (``media.analysis.luma``). The encoded Y plane
is *not* that number: it is limited range (16-235), and for colours outside the RGB gamut the
display clips R, G and B. Chromium's built-in fake camera paints its picture into Y alone with
U = V = 0: the background is Y = 0 and shows as RGB (0, 135, 0), so the Y plane averaged ~35
("too dark") while the person, and the page's meter, saw a green picture of luma ~90.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

DARK_LEVEL = 16  # luma at or below this counts as clipped dark
BRIGHT_LEVEL = 240  # luma at or above this counts as clipped bright
SHARPNESS_WIDTH = 320  # sharpness is measured on a frame downscaled to about this width


@dataclass(frozen=True, slots=True)
class PictureMetrics:
    mean_luma: float  # 0-255
    dark_fraction: float  # 0-1, share of clipped dark pixels
    bright_fraction: float  # 0-1, share of clipped bright pixels
    contrast: float  # standard deviation of luma
    sharpness: float  # variance of the Laplacian on the downscaled frame

    def as_dict(self) -> dict[str, float]:
        return {
            "mean_luma": round(self.mean_luma, 2),
            "dark_fraction": round(self.dark_fraction, 4),
            "bright_fraction": round(self.bright_fraction, 4),
            "contrast": round(self.contrast, 2),
            "sharpness": round(self.sharpness, 2),
        }


def bt601_luma(rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """BT.601 luma (0-255, rounded) of an (h, w, 3) RGB image: the one lighting formula."""
    weighted = rgb.astype(np.uint32) @ np.array([299, 587, 114], dtype=np.uint32)
    return ((weighted + 500) // 1000).astype(np.uint8)


def downscale(grey: NDArray[np.uint8], width: int = SHARPNESS_WIDTH) -> NDArray[np.uint8]:
    """Integer-step decimation: cheap, and keeps the measure comparable across resolutions."""
    step = max(1, grey.shape[1] // width)
    return grey[::step, ::step]


def laplacian_variance(grey: NDArray[np.uint8]) -> float:
    g = grey.astype(np.float32)
    if g.shape[0] < 3 or g.shape[1] < 3:
        return 0.0
    lap = g[1:-1, :-2] + g[1:-1, 2:] + g[:-2, 1:-1] + g[2:, 1:-1] - 4.0 * g[1:-1, 1:-1]
    return float(lap.var())


def measure(grey: NDArray[np.uint8]) -> PictureMetrics:
    """All picture measures of one grey frame."""
    if grey.size == 0:
        return PictureMetrics(0.0, 1.0, 0.0, 0.0, 0.0)
    small = downscale(grey)
    n = float(small.size)
    return PictureMetrics(
        mean_luma=float(small.mean()),
        dark_fraction=float(np.count_nonzero(small <= DARK_LEVEL)) / n,
        bright_fraction=float(np.count_nonzero(small >= BRIGHT_LEVEL)) / n,
        contrast=float(small.std()),
        sharpness=laplacian_variance(small),
    )


# --- Live call quality: classification, hints ------------------------------------------------
#
# Everything below is pure as well: the caller measures frames (``measure`` and ``frame_motion``)
# and connection numbers, and passes the time in. ``videocall.quality_monitor`` adds hysteresis,
# the 1 Hz time series and the end-of-call summary on top.

Level = Literal["ok", "warn", "bad"]
LEVELS: tuple[Level, ...] = ("ok", "warn", "bad")
LEVEL_RANK: dict[Level, int] = {"ok": 0, "warn": 1, "bad": 2}

# One key per classified measure. Picture measures come from sampled frames, connection measures
# from the transport statistics of one side.
PICTURE_MEASURES = ("darkness", "brightness", "sharpness", "frozen", "black")
CONNECTION_MEASURES = ("packet_loss", "jitter", "rtt", "fps", "bitrate", "resolution")
# The measures that say the link itself is poor (bitrate is judged only while one of them does).
LINK_MEASURES = ("packet_loss", "jitter", "rtt", "fps")

HintCode = Literal[
    "too_dark",
    "too_bright",
    "blurry",
    "frozen",
    "black",
    "unstable_connection",
    "low_frame_rate",
    "low_bandwidth",
    "low_resolution",
    "weak_uplink",  # videocall.uplink: the call goes on as audio
    "codec_mismatch",  # media.codecs: the two browsers share no video format
]

# Which hint a measure raises when it is not ``ok``. The three network measures share one hint:
# the participant cannot act on the difference between loss, jitter and delay.
HINT_FOR_MEASURE: dict[str, HintCode] = {
    "darkness": "too_dark",
    "brightness": "too_bright",
    "sharpness": "blurry",
    "frozen": "frozen",
    "black": "black",
    "packet_loss": "unstable_connection",
    "jitter": "unstable_connection",
    "rtt": "unstable_connection",
    "fps": "low_frame_rate",
    "bitrate": "low_bandwidth",
    "resolution": "low_resolution",
}

HINT_TEXTS: dict[str, dict[HintCode, str]] = {
    "id": {
        "too_dark": "Ruangan terlalu gelap — pindah ke tempat yang lebih terang",
        "too_bright": "Gambar terlalu terang — hindari cahaya langsung ke kamera",
        "blurry": "Gambar buram — bersihkan lensa kamera dan tahan perangkat agar tidak bergerak",
        "frozen": "Video berhenti — periksa kamera atau koneksi Anda",
        "black": "Video hitam — pastikan kamera tidak tertutup",
        "unstable_connection": "Koneksi tidak stabil — dekati router Wi-Fi atau ganti jaringan",
        "low_frame_rate": "Video patah-patah — tutup aplikasi lain atau periksa koneksi Anda",
        "low_bandwidth": "Koneksi lambat — kualitas video dikurangi",
        "low_resolution": "Resolusi video rendah — periksa kamera atau koneksi Anda",
        "weak_uplink": "Sinyal lemah — video dihentikan sementara",
        "codec_mismatch": "Video Anda tidak dapat diteruskan — buka panggilan di Chrome",
    },
    "en": {
        "too_dark": "The room is too dark — move somewhere brighter",
        "too_bright": "The picture is too bright — avoid light shining into the camera",
        "blurry": "The picture is blurry — clean the camera lens and hold the device still",
        "frozen": "The video has stopped — check your camera or connection",
        "black": "The video is black — make sure the camera is not covered",
        "unstable_connection": "The connection is unstable — move closer to the Wi-Fi router or "
        "use another network",
        "low_frame_rate": "The video is choppy — close other apps or check your connection",
        "low_bandwidth": "The connection is slow — video quality is reduced",
        "low_resolution": "The video resolution is low — check your camera or connection",
        "weak_uplink": "Weak signal — video paused for now",
        "codec_mismatch": "Your video cannot be passed on — open the call in Chrome",
    },
}


def hint_text(code: HintCode, lang: str = "id") -> str:
    """The participant-facing text of a hint; Indonesian unless English is asked for."""
    return HINT_TEXTS.get(lang, HINT_TEXTS["id"])[code]


@dataclass(frozen=True, slots=True)
class QualityThresholds:
    """Where each measure turns ``warn`` and ``bad``, and how long a level must hold.

    Picture values are on the 320-px-wide grey frame of ``measure``. The defaults were chosen on
    generated 640x480 VP8 streams (tests/integration/test_media_quality.py) and the usual
    WebRTC guidance for connections; tune them with recorded calls.
    """

    # Mean BT.601 luma 0-255 (see the module docstring). An evenly lit face is around 90-160;
    # at or below 60 faces lose detail in VP8. The page's pre-call meter uses the same numbers
    # (served by web/quality_api.py), as does the photo check (videocall/documents.py).
    dark_luma_warn: float = 60.0
    dark_luma_bad: float = 40.0
    # Over-exposure: mean luma or the share of clipped-bright pixels, whichever is worse.
    bright_luma_warn: float = 215.0
    bright_luma_bad: float = 235.0
    bright_fraction_warn: float = 0.25
    bright_fraction_bad: float = 0.45
    # Laplacian variance; sharp webcam faces give a few hundred, a smeared lens below 30.
    sharpness_warn: float = 60.0
    sharpness_bad: float = 25.0
    # ``frame_motion`` between consecutive samples at or below this is a frozen picture. VP8
    # refining a still, highly textured picture measured up to 2.8; a moving pan 50. Tune on
    # recorded calls: a very still person in front of a plain wall is the risk.
    frozen_motion: float = 3.0
    # Black: a covered lens or a black source, not just a dark room (which still has contrast).
    black_luma: float = 12.0
    black_contrast: float = 4.0
    # Connection, per side, over the last statistics interval.
    loss_pct_warn: float = 3.0
    loss_pct_bad: float = 8.0
    jitter_ms_warn: float = 30.0
    jitter_ms_bad: float = 80.0
    rtt_ms_warn: float = 300.0
    rtt_ms_bad: float = 600.0
    fps_warn: float = 10.0
    fps_bad: float = 5.0
    bitrate_kbps_warn: float = 250.0
    bitrate_kbps_bad: float = 100.0
    height_warn: int = 360
    height_bad: int = 240
    # Hysteresis: a new level is reported once it has held this long AND for this many samples,
    # so hints do not flicker. Getting worse is reported sooner than getting better.
    hold_worse_s: float = 1.0
    hold_better_s: float = 1.5
    hold_samples: int = 2

    def lighting(self) -> dict[str, object]:
        """The lighting limits for the page's pre-call meter (served as JSON): a mean luma at or
        below ``dark_luma_warn`` is too dark, at or above ``bright_luma_warn`` too bright."""
        return {
            "formula": "bt601",
            "dark_luma_warn": self.dark_luma_warn,
            "dark_luma_bad": self.dark_luma_bad,
            "bright_luma_warn": self.bright_luma_warn,
            "bright_luma_bad": self.bright_luma_bad,
            "bright_fraction_warn": self.bright_fraction_warn,
            "bright_fraction_bad": self.bright_fraction_bad,
            "bright_level": BRIGHT_LEVEL,
        }


@dataclass(frozen=True, slots=True)
class ConnectionMetrics:
    """Numbers for one side over one statistics interval; ``None`` when not known yet."""

    packet_loss_pct: float | None = None
    jitter_ms: float | None = None
    rtt_ms: float | None = None
    fps: float | None = None
    bitrate_kbps: float | None = None
    width: int | None = None
    height: int | None = None

    def as_dict(self) -> dict[str, float]:
        values = {
            "packet_loss": self.packet_loss_pct,
            "jitter": self.jitter_ms,
            "rtt": self.rtt_ms,
            "fps": self.fps,
            "bitrate": self.bitrate_kbps,
            "resolution": None if self.height is None else float(self.height),
        }
        return {k: round(v, 2) for k, v in values.items() if v is not None}


MOTION_BLOCK = 8  # frames are compared as means of 8x8 blocks of the downscaled picture


def _block_means(grey: NDArray[np.uint8]) -> NDArray[np.float32]:
    h, w = (
        (grey.shape[0] // MOTION_BLOCK) * MOTION_BLOCK,
        (grey.shape[1] // MOTION_BLOCK) * MOTION_BLOCK,
    )
    blocks = (
        grey[:h, :w].astype(np.float32).reshape(h // MOTION_BLOCK, MOTION_BLOCK, -1, MOTION_BLOCK)
    )
    means: NDArray[np.float32] = blocks.mean(axis=(1, 3), dtype=np.float32)
    return means


def frame_motion(previous: NDArray[np.uint8], current: NDArray[np.uint8]) -> float:
    """How much the picture changed between two downscaled grey frames (0 = not at all).

    98th percentile of the absolute differences of 8x8 block means: codec refinement of a still
    picture and sensor noise are fine-grained and average out inside a block, while a person
    who sits still still moves a few percent of the blocks (eyes, mouth, outline) clearly.
    """
    if previous.shape != current.shape or current.size == 0:
        return 255.0  # a resolution change is a change, not a freeze
    if min(current.shape) < MOTION_BLOCK:
        return float(np.abs(previous.astype(np.int16) - current.astype(np.int16)).mean())
    return float(np.percentile(np.abs(_block_means(previous) - _block_means(current)), 98))


def _above(value: float, warn: float, bad: float) -> Level:
    return "bad" if value >= bad else "warn" if value >= warn else "ok"


def _below(value: float, warn: float, bad: float) -> Level:
    return "bad" if value <= bad else "warn" if value <= warn else "ok"


def _worst(*levels: Level) -> Level:
    return max(levels, key=LEVEL_RANK.__getitem__)


def classify_picture(
    metrics: PictureMetrics, motion: float | None, th: QualityThresholds
) -> dict[str, Level]:
    """Picture measures of one sample; ``motion`` is None for the first sample."""
    black = metrics.mean_luma <= th.black_luma and metrics.contrast <= th.black_contrast
    levels: dict[str, Level] = {
        "black": "bad" if black else "ok",
        # A black picture is one problem, not three: report it once, as black.
        "darkness": "ok"
        if black
        else _below(metrics.mean_luma, th.dark_luma_warn, th.dark_luma_bad),
        "brightness": _worst(
            _above(metrics.mean_luma, th.bright_luma_warn, th.bright_luma_bad),
            _above(metrics.bright_fraction, th.bright_fraction_warn, th.bright_fraction_bad),
        ),
        "sharpness": "ok"
        if black
        else _below(metrics.sharpness, th.sharpness_warn, th.sharpness_bad),
    }
    if motion is not None:
        levels["frozen"] = "bad" if motion <= th.frozen_motion else "ok"
    return levels


def classify_connection(metrics: ConnectionMetrics, th: QualityThresholds) -> dict[str, Level]:
    """Connection measures that are known; unknown ones are left out, not guessed."""
    levels: dict[str, Level] = {}
    if metrics.packet_loss_pct is not None:
        levels["packet_loss"] = _above(metrics.packet_loss_pct, th.loss_pct_warn, th.loss_pct_bad)
    if metrics.jitter_ms is not None:
        levels["jitter"] = _above(metrics.jitter_ms, th.jitter_ms_warn, th.jitter_ms_bad)
    if metrics.rtt_ms is not None:
        levels["rtt"] = _above(metrics.rtt_ms, th.rtt_ms_warn, th.rtt_ms_bad)
    if metrics.fps is not None:
        levels["fps"] = _below(metrics.fps, th.fps_warn, th.fps_bad)
    if metrics.bitrate_kbps is not None:
        # A low bitrate alone says nothing about the link: a sender ramping up its estimate at
        # the start of a call, or a still picture that compresses well, sends little on a
        # healthy link. It counts only while loss, jitter, RTT or frame rate say the link is poor.
        link_poor = any(levels.get(m, "ok") != "ok" for m in LINK_MEASURES)
        levels["bitrate"] = (
            _below(metrics.bitrate_kbps, th.bitrate_kbps_warn, th.bitrate_kbps_bad)
            if link_poor
            else "ok"
        )
    if metrics.height is not None:
        levels["resolution"] = _below(float(metrics.height), th.height_warn, th.height_bad)
    return levels

"""Which codecs a call's two legs use, so that encoded forwarding can work at all.

Forwarding without re-encoding needs both sides on the same video format: the same codec and,
for H.264, the same profile and packetization mode. The participant's side leads (a Safari or
iOS web view may offer H.264 only); the officer's answer puts the participant's format first, so
the officer's browser sends and receives that format too. When the offers share no format the
call is refused with a clear error instead of black video.

A participant whose offer comes after the officer's leg was answered (``codec_wait_s`` passed)
with a format the officer's leg does not use is answered in a format the officer's browser
offered too (``reoffer_format``), and the server offers the officer's leg again with that format
alone (``only_format``); the officer's answer must carry it, or both sides are told.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiortc import RTCRtpCodecCapability, RTCRtpCodecParameters, RTCRtpSender
from aiortc import sdp as aiortc_sdp
from aiortc.codecs import CODECS, is_rtx
from aiortc.rtcpeerconnection import is_codec_compatible

from videocall.errors import ValidationError
from videocall.quality_monitor import QualityEvent

KINDS = ("audio", "video")
DEFAULT_ORDER = {"audio": ("opus",), "video": ("VP8", "H264")}


@dataclass(frozen=True, slots=True)
class Offer:
    kinds: list[str]
    video: list[RTCRtpCodecParameters]  # offered video codecs we can use, RTX left out


def parse_offer(sdp: str) -> Offer:
    """The offer's media kinds and usable video codecs; raises for what we cannot answer."""
    try:
        parsed = aiortc_sdp.SessionDescription.parse(sdp)
    except Exception as exc:
        raise ValidationError("the offer is not valid SDP", code="bad_sdp") from exc
    kinds = [m.kind for m in parsed.media if m.kind in KINDS]
    if not kinds or len(kinds) != len(set(kinds)):
        raise ValidationError("the offer needs one audio and/or one video", code="bad_sdp")
    video: list[RTCRtpCodecParameters] = []
    for media in parsed.media:
        if media.kind == "video":
            offered = [c for c in media.rtp.codecs if not is_rtx(c)]
            video = [c for c in offered if _usable(c)]
            if not video:
                names = sorted({describe(c) for c in offered}) or ["none"]
                raise ValidationError(
                    "the browser offers no video format the server can forward "
                    f"(offered: {', '.join(names)}; usable: VP8, H.264 constrained baseline)",
                    code="video_codec_unsupported",
                )
    return Offer(kinds, video)


def _usable(codec: RTCRtpCodecParameters) -> bool:
    return any(is_codec_compatible(ours, codec) for ours in CODECS["video"] if not is_rtx(ours))


def same_format(a: RTCRtpCodecParameters, b: RTCRtpCodecParameters) -> bool:
    """Whether packets of ``a`` can be forwarded to a receiver that negotiated ``b``."""
    return is_codec_compatible(a, b)


def describe(codec: RTCRtpCodecParameters) -> str:
    """``VP8``, ``H264 42e01f``: for logs and error messages."""
    profile = codec.parameters.get("profile-level-id")
    name = codec.mimeType.split("/")[-1]
    return f"{name} {str(profile).lower()}" if profile else name


def preferred_codecs(
    kind: str, follow: RTCRtpCodecParameters | None = None
) -> list[RTCRtpCodecCapability]:
    """Our codecs for ``kind`` in preference order: the other leg's video format first when it is
    known, then VP8 (with RTX), then H.264; Opus only for audio."""
    capabilities = RTCRtpSender.getCapabilities(kind).codecs
    order = DEFAULT_ORDER[kind]

    def rank(c: RTCRtpCodecCapability) -> tuple[int, int]:
        name = c.mimeType.split("/")[1]
        leads = follow is not None and is_codec_compatible(_as_params(c), follow)
        return (0 if leads else 1, order.index(name) if name in order else len(order))

    chosen = [c for c in capabilities if c.mimeType.split("/")[1] in (*order, "rtx")]
    media = sorted((c for c in chosen if not is_rtx(c)), key=rank)
    rtx = [c for c in chosen if is_rtx(c)]
    return media + rtx  # aiortc pairs each codec with its RTX itself when RTX is listed


def reoffer_format(
    offered: list[RTCRtpCodecParameters], accepted: list[RTCRtpCodecParameters]
) -> RTCRtpCodecParameters | None:
    """The first format of ``offered`` (a late participant's offer) that ``accepted`` (what the
    officer's browser offered when it connected) also lists: the officer's leg can be offered
    again with it alone. None when the two browsers share no format."""
    for codec in offered:
        if any(same_format(codec, a) for a in accepted):
            return codec
    return None


def only_format(kind: str, fmt: RTCRtpCodecParameters) -> list[RTCRtpCodecCapability]:
    """Our codecs for a server's re-offer: for video ``fmt`` alone (with its RTX), so the
    answering browser can only send and receive that; Opus for audio."""
    if kind != "video":
        return preferred_codecs(kind)
    capabilities = RTCRtpSender.getCapabilities(kind).codecs
    media = [c for c in capabilities if not is_rtx(c) and is_codec_compatible(_as_params(c), fmt)]
    return media + [c for c in capabilities if is_rtx(c)]


def answered_video(sdp: str) -> RTCRtpCodecParameters | None:
    """The video codec an answer sends first (what both ends will use), if any."""
    for media in aiortc_sdp.SessionDescription.parse(sdp).media:
        if media.kind == "video" and media.rtp.codecs:
            return media.rtp.codecs[0]
    return None


def _as_params(c: RTCRtpCodecCapability) -> RTCRtpCodecParameters:
    return RTCRtpCodecParameters(
        mimeType=c.mimeType, clockRate=c.clockRate, parameters=dict(c.parameters)
    )


def mismatch(
    side: str, follow: RTCRtpCodecParameters, offered: list[RTCRtpCodecParameters], at: float
) -> tuple[QualityEvent, ValidationError]:
    """The ``video_codec`` event both sides are told and the error the offering (or answering)
    side gets when it has no format of the other side's connection."""
    formats = ", ".join(sorted({describe(c) for c in offered})) or "none"
    event = QualityEvent(at, "video_codec", "bad", "ok", "codec_mismatch")
    error = ValidationError(
        f"the two browsers share no video format ({side} offers {formats}; "
        f"the other side uses {describe(follow)})",
        code="video_codec_mismatch",
    )
    return event, error

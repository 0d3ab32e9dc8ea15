"""The marker-bit jitter buffer now lives with the product (media/rtc_forward.py):
the benchmark's client peers, standing in for browsers, use the same one."""

from media.rtc_forward import MarkerJitterBuffer, use_marker_jitter_buffer

__all__ = ["MarkerJitterBuffer", "use_marker_jitter_buffer"]

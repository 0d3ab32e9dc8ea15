"""The media engine: aiortc peer connections, encoded forwarding, quality sampling, snapshots.

Knows nothing of sockets, HTTP or SQL: the signalling layer drives a ``media.call.MediaCall``
per call; recording is delegated to ``recording/``.
"""

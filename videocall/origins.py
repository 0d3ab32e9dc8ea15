"""Web origins (``scheme://host[:port]``) as browsers write them in ``Origin`` headers.

The server accepts cookie-authenticated changes and Socket.IO connections only from pages of its
public origins (``PUBLIC_ORIGINS``); this module turns the configured URLs into that list.
"""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
# Addresses a local browser reaches a server bound to one of these by.
LOCAL_BINDS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0", "::", ""})
LOCAL_NAMES = ("127.0.0.1", "localhost", "[::1]")


def origin_of(url: str) -> str:
    """The serialised origin of ``url`` (lower case, no default port, no path); ValueError if
    ``url`` has no http(s) scheme or no host."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an http(s) origin: {url!r}")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is None or port == DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def default_origins(public_url: str, host: str, port: int) -> list[str]:
    """``PUBLIC_URL``'s origin when set; otherwise the listening address, plus the loopback
    names when it is a loopback or wildcard address (so ``make run`` works as printed)."""
    if public_url:
        return [origin_of(public_url)]
    names = list(LOCAL_NAMES) if host in LOCAL_BINDS else [f"[{host}]" if ":" in host else host]
    return [origin_of(f"http://{name}:{port}") for name in names]

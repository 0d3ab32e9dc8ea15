"""The server's Ed25519 key for evidence manifests: a PEM file under DATA_DIR, made on first use
(mode 0600). Verification needs only the public key, which the server publishes."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_FILE = "evidence_ed25519.pem"


def load_or_create_key(data_dir: Path) -> bytes:
    """The private key as PKCS#8 PEM; created (atomically, 0600) when there is none."""
    path = data_dir / KEY_FILE
    if path.exists():
        return path.read_bytes()
    data_dir.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    try:
        os.link(tmp, path)  # first writer wins: two processes never sign with different keys
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes()


def _private(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the evidence key is not an Ed25519 key")
    return key


def public_pem(private_pem: bytes) -> bytes:
    return (
        _private(private_pem)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def sign(private_pem: bytes, data: bytes) -> bytes:
    """The base64 Ed25519 signature of ``data`` (as stored in ``manifest.sig``)."""
    return base64.b64encode(_private(private_pem).sign(data)) + b"\n"


def verify(public_key_pem: bytes, data: bytes, signature_b64: bytes) -> bool:
    try:
        key = serialization.load_pem_public_key(public_key_pem)
        if not isinstance(key, Ed25519PublicKey):
            return False
        key.verify(base64.b64decode(signature_b64.strip(), validate=True), data)
    except (InvalidSignature, ValueError):
        return False
    return True

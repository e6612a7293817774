"""Webhook signatures, the way Stripe signs its events: HMAC-SHA256 of `{timestamp}.{body}` with the
subscription's secret, sent as `X-SupportIntel-Signature: t=<unix seconds>,v1=<hex digest>`. A receiver
recomputes the digest over the raw body and rejects a timestamp older than its tolerance (replays)."""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-SupportIntel-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: str, header_value: str, body: bytes, tolerance: int = 300, now: float | None = None) -> bool:
    """What a receiver does (also in docs/WEBHOOKS.md): the header parses, one `v1` matches the digest of
    this body under this secret, and the timestamp is within `tolerance` seconds of now."""
    parts: dict[str, list[str]] = {}
    for item in header_value.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in parts.get("v1", []))

"""Where a page may send the browser after sign-in: a path of this site only."""

from __future__ import annotations

from urllib.parse import urlsplit


def local_path(target: str | None, default: str) -> str:
    """``target`` when it is a path on this site (``/cases/7?tab=history``), else ``default``.

    Refused: anything with a scheme or a host, a path starting ``//`` or ``/\\`` (both read as another host by
    browsers), and any control character or backslash — browsers drop tabs and newlines from a URL,
    so ``/\\t/evil.example`` would become ``//evil.example``."""
    if not target or not target.startswith("/") or len(target) > 2000:
        return default
    if any(ord(char) < 0x20 or char in "\\\x7f" for char in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return default
    return target

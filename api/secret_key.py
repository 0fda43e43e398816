"""The key that signs the web pages' session cookies: never a value written in the code.

``GONGHUI_SECRET_KEY`` when it is set; otherwise the random key ``gonghui init-db`` wrote to the instance folder
(``instance/secret_key``, mode 600). Without either, ``gonghui run`` writes one there on first use and
``gonghui serve`` refuses to start. A key the code has ever carried as a default, or a short one, is refused
everywhere: whoever knows it can sign a session cookie for any user.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

FILE_NAME = "secret_key"
MIN_LENGTH = 32
# Keys that were written in this code base at some time: whoever reads the code can sign cookies with them.
KNOWN_KEYS = frozenset({"dev-only-change-me"})


class SecretKeyError(RuntimeError):
    """No usable key: the message says what to do."""


def key_file(instance_path: str | Path) -> Path:
    return Path(instance_path) / FILE_NAME


def weakness(key: object) -> str | None:
    """Why ``key`` may not sign sessions, or None when it may."""
    text = str(key) if key is not None else ""
    if text in KNOWN_KEYS:
        return "the secret key is one that the code once carried as a default: anyone can forge sessions with it"
    if len(text) < MIN_LENGTH:
        return f"the secret key is shorter than {MIN_LENGTH} characters"
    return None


def generate(instance_path: str | Path) -> tuple[Path, bool]:
    """Write a new random key to the instance folder unless one is there; (path, whether it was written).

    The file is created with mode 600 in one step (``O_EXCL``): of two processes starting at once, one writes
    and the other reads the same key."""
    path = key_file(instance_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)
        return path, False
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(secrets.token_hex(32) + "\n")
    return path, True


def read(instance_path: str | Path) -> str | None:
    path = key_file(instance_path)
    try:
        return path.read_text(encoding="ascii").strip() or None
    except FileNotFoundError:
        return None


def resolve(configured: object, instance_path: str | Path, *, generate_missing: bool) -> str:
    """The key to sign sessions with: the configured one, else the instance folder's (written first when
    ``generate_missing``); refused with :class:`SecretKeyError` when it is missing, known or short."""
    key = str(configured) if configured not in (None, "") else read(instance_path)
    if key is None:
        if not generate_missing:
            raise SecretKeyError(
                f"no secret key: run `gonghui init-db` (it writes {key_file(instance_path)}) "
                "or set GONGHUI_SECRET_KEY to a random value of 32 characters or more")
        generate(instance_path)
        key = read(instance_path)
    fault = weakness(key)
    if fault is not None:
        source = "GONGHUI_SECRET_KEY" if configured not in (None, "") else str(key_file(instance_path))
        raise SecretKeyError(f"{fault} ({source}); set GONGHUI_SECRET_KEY to a random value, "
                             "or delete the file and run `gonghui init-db`")
    assert key is not None
    return key

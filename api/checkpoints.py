"""Signed checkpoints of the history chains, kept outside the database.

The hash chain proves that rows follow one another, but whoever can write the database can also rewrite a
chain and recompute every hash after the change, or delete the last rows of a case and step its version back.
So at intervals (each scheduler sweep, and ``gonghui audit checkpoint``) the head of every chain that moved
since the last checkpoint — (case id, sequence number, hash) — is appended to a JSON-lines file outside the
database, each line signed with an HMAC-SHA256 under a key that is not in the database either
(``GONGHUI_AUDIT_KEY``, or the file ``audit.key`` in the instance folder, mode 600), and each line covering
the previous line's signature. ``gonghui audit verify`` checks the signatures and that every recorded head is
still in the database as recorded: a rewritten chain or a deleted tail is found, and a checkpoint cannot be
forged or altered without the key.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.models import Case, CaseHistory

HEADS_PER_LINE = 10_000


@dataclass(frozen=True)
class Seal:
    """Where the key and the checkpoints are."""

    key: bytes | None
    key_file: Path
    path: Path

    @classmethod
    def of(cls, app: Any) -> Seal:
        instance = Path(app.instance_path)
        key_file = Path(app.config.get("AUDIT_KEY_FILE") or instance / "audit.key")
        path = Path(app.config.get("AUDIT_CHECKPOINTS") or instance / "audit-checkpoints.jsonl")
        configured = app.config.get("AUDIT_KEY")
        key = str(configured).encode() if configured else None
        if key is None and key_file.exists():
            key = key_file.read_text(encoding="ascii").strip().encode()
        return cls(key, key_file, path)

    def ensure_key(self) -> Seal:
        """This seal with a key: the configured one, or a new random key written to the key file (mode 600)."""
        if self.key is not None:
            return self
        self.key_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:   # another process made it first
            return Seal(self.key_file.read_text(encoding="ascii").strip().encode(), self.key_file, self.path)
        key = secrets.token_hex(32)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(key + "\n")
        return Seal(key.encode(), self.key_file, self.path)

    def sign(self, line: dict[str, Any]) -> str:
        assert self.key is not None
        body = json.dumps({name: value for name, value in line.items() if name != "mac"}, sort_keys=True,
                          separators=(",", ":"), ensure_ascii=False)
        return hmac.new(self.key, body.encode(), hashlib.sha256).hexdigest()


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any] | None]]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if text.strip():
                try:
                    yield number, json.loads(text)
                except ValueError:
                    yield number, None


def _last_line(path: Path) -> dict[str, Any]:
    """The file's last line, read from its end (the file only grows)."""
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        position = handle.tell()
        tail = b""
        while position > 0:
            step = min(64 * 1024, position)
            position -= step
            handle.seek(position)
            tail = handle.read(step) + tail
            if tail.rstrip(b"\n").count(b"\n") >= 1:
                break
    lines = [line for line in tail.split(b"\n") if line.strip()]
    if not lines:
        return {}
    try:
        found = json.loads(lines[-1])
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def write(session: Session, seal: Seal, at: datetime) -> int:
    """Append the heads of the chains that moved since the last checkpoint; the number of heads written."""
    seal = seal.ensure_key()
    seal.path.parent.mkdir(parents=True, exist_ok=True)
    with seal.path.open("a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)   # two scheduler processes append one after the other
        last = _last_line(seal.path)
        after_id, previous = int(last.get("last_id", 0)), last.get("mac")
        written = 0
        while True:
            heads: dict[str, list[Any]] = {}
            last_id = after_id
            rows = session.execute(sa.select(CaseHistory.id, CaseHistory.case_id, CaseHistory.seq, CaseHistory.hash)
                                   .where(CaseHistory.id > after_id).order_by(CaseHistory.id)
                                   .limit(HEADS_PER_LINE))
            for row_id, case_id, seq, digest in rows:
                heads[str(case_id)] = [seq, digest]
                last_id = row_id
            if not heads:
                break
            line: dict[str, Any] = {"at": at.isoformat(), "after_id": after_id, "last_id": last_id,
                                    "heads": heads, "prev": previous}
            line["mac"] = previous = seal.sign(line)
            handle.write(json.dumps(line, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n")
            handle.flush()
            written += len(heads)
            after_id = last_id
        os.fsync(handle.fileno())
    return written


@dataclass(frozen=True)
class Finding:
    case_number: str
    seq: int
    reason: str


def check(session: Session, seal: Seal) -> Iterator[Finding]:
    """Every checkpoint line whose signature does not hold, and every recorded head not in the database as
    recorded (rewritten or deleted history)."""
    if not seal.path.exists():
        return
    if seal.key is None:
        yield Finding("checkpoints", 0, f"{seal.path} exists but no audit key is configured to check it")
        return
    heads = yield from _signed_heads(seal)
    ids = sorted(heads)
    for start in range(0, len(ids), 1000):
        yield from _check_heads(session, heads, ids[start:start + 1000])


# case id -> (the seq of its last history row, that row's hash, when the checkpoint recorded it)
Heads = dict[int, tuple[int, str, str]]


def _signed_heads(seal: Seal) -> Generator[Finding, None, Heads]:
    """The heads the checkpoint file records (the last line's head of each case wins), with a finding for every
    line whose signature, or link to the line before, does not hold."""
    heads: Heads = {}
    previous = None
    for number, line in _lines(seal.path):
        if line is None or not hmac.compare_digest(str(line.get("mac", "")), seal.sign(line)) \
                or line.get("prev") != previous:
            yield Finding("checkpoints", number, f"line {number} of {seal.path}: its signature does not hold "
                                                 "(the checkpoint file was altered)")
            if line is None:
                continue
        previous = line.get("mac")
        for case_id, (seq, digest) in line.get("heads", {}).items():
            heads[int(case_id)] = (int(seq), str(digest), str(line.get("at")))
    return heads


def _check_heads(session: Session, heads: Heads, chunk: list[int]) -> Iterator[Finding]:
    """A finding for every case of ``chunk`` whose recorded head is not in the database as recorded."""
    stored = {(case_id, seq): digest for case_id, seq, digest in session.execute(
        sa.select(CaseHistory.case_id, CaseHistory.seq, CaseHistory.hash)
        .where(sa.tuple_(CaseHistory.case_id, CaseHistory.seq).in_([(i, heads[i][0]) for i in chunk])))}
    numbers = {case_id: number for case_id, number in session.execute(
        sa.select(Case.id, Case.number).where(Case.id.in_(chunk)))}
    for case_id in chunk:
        seq, digest, at = heads[case_id]
        case_number = numbers.get(case_id, f"case id {case_id}")
        found = stored.get((case_id, seq))
        if case_id not in numbers:
            yield Finding(case_number, seq, f"the case is gone, though the checkpoint of {at} records its history")
        elif found is None:
            yield Finding(case_number, seq, f"history row {seq}, recorded in the checkpoint of {at}, is missing "
                                            "(deleted)")
        elif found != digest:
            yield Finding(case_number, seq, f"history row {seq} is not the row recorded in the checkpoint of {at} "
                                            "(the chain was rewritten)")

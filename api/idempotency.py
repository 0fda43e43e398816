"""One request, one transaction — and ``Idempotency-Key`` on every POST.

Views change the session and flush; the response decides: a success commits, an error rolls back. With an
``Idempotency-Key`` the response is stored in the same transaction as the change it describes, under a
unique (principal, key): a repeat with the same body replays it, another body is 422, and of two identical
requests racing, the second's insert fails on the unique index, its work is rolled back and the first's
response is replayed.

No secret is kept in a record: the fields of ``SECRET_FIELDS`` (a bearer token, a reporter's secret) are stored
as ``MASK``, so a replay answers them masked (the secret is shown once, in the first answer). Records expire
after ``IDEMPOTENCY_TTL_HOURS`` (24): an older one is never replayed, and ``api.housekeeping`` deletes them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask, Request, Response
from sqlalchemy.orm import Session

from api import access, connections
from api.clock import now
from api.context import request_globals, this_app, this_request
from api.errors import loggable
from api.extensions import current_session, db
from api.models import IdempotencyRecord
from api.problems import problem

log = logging.getLogger(__name__)
REPLAYED_HEADERS = ("Location", "ETag", "Content-Type")
_REPLAYED = {name.lower(): name for name in REPLAYED_HEADERS}
MAX_KEY_LENGTH = 200
MASK = "********"
# endpoint → the top-level fields of its answer that hold a secret, never stored in an idempotency record
SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    "auth.Token": ("token",), "admin.Tokens": ("token",), "intake.IntakeReports": ("secret",),
}


def ttl() -> timedelta:
    return timedelta(hours=int(this_app().config.get("IDEMPOTENCY_TTL_HOURS", 24)))


def _without_secrets(body: str) -> str:
    """The answer as it may be stored: every secret field of this endpoint masked."""
    fields = SECRET_FIELDS.get(this_request().endpoint or "", ())
    if not fields:
        return body
    try:
        document = json.loads(body)
    except ValueError:
        return body
    if isinstance(document, dict):
        for name in fields:
            if document.get(name) is not None:
                document[name] = MASK
    return json.dumps(document, ensure_ascii=False)
# Endpoints whose every effect is a row of the request's transaction (firing an event: history, timers, notices
# and webhook messages are all rows). Their key is not looked up before the work, which saves a statement on
# every request: a repeat does the work again, and the record's insert, travelling with the COMMIT, fails on the
# unique index — the work is rolled back and the stored answer replayed (or 422 for another body), exactly as
# for two requests racing. An expired record of the key is deleted in the same round trip, before the insert.
# Not for an endpoint with an effect outside the transaction (a number drawn from a sequence, a file written, a
# sign-in attempt counted): a repeat would leave it twice.
CHECKED_AT_COMMIT = frozenset({"cases.CaseEvent"})
KEY_PATTERN = re.compile(r"[\x21-\x7e]+( +[\x21-\x7e]+)*")   # as the document states it


def _principal_key(current_request: Request) -> str:
    principal = request_globals().get("principal")
    if principal is not None:
        return f"user:{principal.user_id}"
    header = current_request.headers.get("Authorization", "")
    if header:
        return "token:" + hashlib.sha256(header.encode()).hexdigest()[:32]
    return f"addr:{current_request.remote_addr}"


def _request_hash(current_request: Request) -> str:
    digest = hashlib.sha256()
    digest.update(f"{current_request.method} {current_request.path}?{current_request.query_string.decode()}\n"
                  .encode())
    digest.update(current_request.get_data(cache=True))
    return digest.hexdigest()


def _replay(record: sa.Row[Any]) -> Response:
    response = Response(record.body, status=record.status)
    for name, value in record.headers.items():
        response.headers[name] = value
    response.headers["Idempotent-Replayed"] = "true"
    return response


_RECORDS = IdempotencyRecord.__table__
# built once (their cache keys with them): a lookup on every POST that carries a key
_FIND = sa.select(_RECORDS).where(_RECORDS.c.principal == sa.bindparam("i_principal"),
                                  _RECORDS.c.key == sa.bindparam("i_key"))
_FIND_LIVE = _FIND.where(_RECORDS.c.created_at > sa.bindparam("i_since", type_=_RECORDS.c.created_at.type))

_DROP_EXPIRED = sa.delete(_RECORDS).where(_RECORDS.c.principal == sa.bindparam("i_principal"),
                                          _RECORDS.c.key == sa.bindparam("i_key"),
                                          _RECORDS.c.created_at <= sa.bindparam("i_since",
                                                                                type_=_RECORDS.c.created_at.type))
_INSERT = sa.insert(_RECORDS).inline()
# every column but the key the database draws: the same as ``_INSERT`` is given (``_answer_to_keep``)
_STORED = tuple(column.key for column in _RECORDS.columns if not column.primary_key)
# PostgreSQL: both in one statement. The insert reads the delete's count first, so the delete runs before it (a
# data-modifying CTE nobody reads runs after the statement), and the row it deleted no longer holds the key
_REPLACE_EXPIRED = sa.insert(_RECORDS).from_select(_STORED, sa.select(
    *(sa.bindparam(name, type_=_RECORDS.c[name].type) for name in _STORED)).select_from(
    sa.select(sa.func.count()).select_from(_DROP_EXPIRED.returning(sa.literal(1)).cte("gone")).subquery("deleted")))


def _find(principal: str, key: str, *, expired_too: bool = False) -> sa.Row[Any] | None:
    """The record of this key while it has not expired (with ``expired_too``, also one that has)."""
    parameters = {"i_principal": principal, "i_key": key}
    if expired_too:
        return current_session().connection().execute(_FIND, parameters).first()
    return current_session().connection().execute(_FIND_LIVE, {**parameters, "i_since": now() - ttl()}).first()


def _expired(record: sa.Row[Any]) -> bool:
    created_at: datetime = record.created_at
    return created_at <= now() - ttl()


def _drop_expired(principal: str, key: str) -> None:
    """An expired record of this key gives way to the new request (before the housekeeping job got to it);
    deleted apart, so that this request holds no write lock before its own work."""
    expired = sa.and_(IdempotencyRecord.principal == principal, IdempotencyRecord.key == key,
                      IdempotencyRecord.created_at <= now() - ttl())
    with Session(db.engine) as own:
        own.execute(sa.delete(IdempotencyRecord).where(expired))
        own.commit()


def before_request() -> Response | None:
    current_request = this_request()
    key = current_request.headers.get("Idempotency-Key")
    if current_request.method != "POST" or key is None:
        return None
    if len(key) > MAX_KEY_LENGTH or not KEY_PATTERN.fullmatch(key):
        return problem(400, f"Idempotency-Key 须为 1 到 {MAX_KEY_LENGTH} 个可打印 ASCII 字符（空格只在中间）")
    path = current_request.path
    if path.startswith("/api/v1/") and not path.startswith("/api/v1/auth/"):
        from api import auth  # authenticate first so the key is scoped to the caller, not the header text

        if current_request.headers.get("Authorization"):
            try:
                auth.current()
            except Exception:  # noqa: BLE001 - the view answers 401 itself
                pass
    globals_ = request_globals()
    principal, request_hash = _principal_key(current_request), _request_hash(current_request)
    globals_.idempotency = (principal, key, request_hash)
    if current_request.endpoint in CHECKED_AT_COMMIT:
        return None
    record = _find(principal, key, expired_too=True)   # one query, whether or not it has expired
    if record is None:
        return None
    if _expired(record):
        _drop_expired(principal, key)
        return None
    globals_.idempotency_replayed = True
    if record.request_hash != request_hash or record.method != current_request.method or record.path != path:
        return problem(422, "同一个 Idempotency-Key 已用于另一个请求体，请换一个新的键",
                       errors={"Idempotency-Key": ["已用于内容不同的请求"]})
    return _replay(record)


def after_request(response: Response) -> Response:
    """Commit the request's work with its access records and, under an Idempotency-Key, the answer to replay;
    a failed request keeps nothing but its access records."""
    globals_ = request_globals()
    if globals_.get("idempotency_replayed"):
        db.session.rollback()
        return response
    if response.status_code >= 400:
        db.session.rollback()
    idempotency = globals_.get("idempotency")
    if response.status_code >= 400 and idempotency is None:
        _record_access_after_failure()
        return response
    if response.status_code >= 500 and idempotency is not None and this_request().endpoint in CHECKED_AT_COMMIT:
        stored = _stored_answer_or_none(idempotency)   # not looked up before the work: a repeat replays still
        if stored is not None:
            return stored
    try:
        _commit(_answer_to_keep(idempotency, response) if response.status_code < 500 else None)
    except sa.exc.IntegrityError:
        db.session.rollback()
        return _lost_race(idempotency)
    except sa.exc.SQLAlchemyError as error:
        db.session.rollback()
        current_request = this_request()
        log.error("commit failed on %s %s: %s", current_request.method, current_request.path, loggable(error))
        return problem(503, "数据库暂不可用，请稍后重试", headers={"Retry-After": "5"})
    return response


def _answer_to_keep(idempotency: tuple[str, str, str] | None, response: Response) -> dict[str, Any] | None:
    """The row of ``idempotency_keys`` that replays ``response`` (None without a key)."""
    if idempotency is None:
        return None
    principal, key, request_hash = idempotency
    headers: dict[str, str] = {}
    for name, value in response.headers.items():   # one pass: a header missing is no exception raised
        replayed = _REPLAYED.get(name.lower())
        if replayed is not None:
            headers.setdefault(replayed, value)
    current_request = this_request()
    return {"principal": principal, "key": key, "method": current_request.method, "path": current_request.path,
            "request_hash": request_hash, "status": response.status_code,
            "body": _without_secrets(response.get_data(as_text=True)), "headers": headers, "created_at": now()}


def _commit(stored: dict[str, Any] | None) -> None:
    """The view's work, who saw personal data unmasked and the answer to replay, in one transaction: the last
    two inserts travel with the COMMIT."""
    if stored is not None or access.pending():
        db.session.flush()   # what the view left, before the inserts that travel with the COMMIT
        connections.commit_with_next_statements(current_session())
    access.write(current_session())   # who saw personal data unmasked: part of the request's transaction
    if stored is not None:
        _store(current_session().connection(), stored)
    db.session.commit()


def _store(connection: sa.Connection, stored: dict[str, Any]) -> None:
    """Insert the record (no RETURNING: it travels with the COMMIT). Where the key was not looked up before the
    work (``CHECKED_AT_COMMIT``), an expired record of it gives way here."""
    if this_request().endpoint not in CHECKED_AT_COMMIT:
        connection.execute(_INSERT, stored)
        return
    expired = {"i_principal": stored["principal"], "i_key": stored["key"], "i_since": stored["created_at"] - ttl()}
    if connection.dialect.name == "postgresql":
        connection.execute(_REPLACE_EXPIRED, {**stored, **expired})
    else:
        connection.execute(_DROP_EXPIRED, expired)
        connection.execute(_INSERT, stored)


def _record_access_after_failure() -> None:
    """A page that failed may still have shown personal data: that is recorded, on its own."""
    if not access.pending():
        return
    try:
        access.write(current_session())
        db.session.commit()
    except sa.exc.SQLAlchemyError as error:
        db.session.rollback()
        current_request = this_request()
        log.error("access records not written on %s %s: %s", current_request.method, current_request.path,
                  loggable(error))


def _lost_race(idempotency: tuple[str, str, str] | None) -> Response:
    """The answer when a racing request committed first: its answer when it held the same key and body, else
    a conflict."""
    stored = _stored_answer(idempotency) if idempotency is not None else None
    return stored if stored is not None else problem(409, "与同时提交的另一个请求冲突，请刷新后重试")


def _stored_answer(idempotency: tuple[str, str, str]) -> Response | None:
    """The live record of the key replayed (422 if it holds another body); None without one."""
    record = _find(idempotency[0], idempotency[1])
    if record is None:
        return None
    if record.request_hash != idempotency[2]:
        return problem(422, "同一个 Idempotency-Key 已用于另一个请求体",
                       errors={"Idempotency-Key": ["已用于内容不同的请求"]})
    return _replay(record)


def _stored_answer_or_none(idempotency: tuple[str, str, str]) -> Response | None:
    """``_stored_answer`` after a failure of the work; None when the database cannot say either."""
    try:
        return _stored_answer(idempotency)
    except sa.exc.SQLAlchemyError:
        return None
    finally:
        db.session.rollback()   # the look-up's transaction: nothing to keep


def register(app: Flask) -> None:
    app.before_request(before_request)
    app.after_request(after_request)

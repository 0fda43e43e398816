"""Webhooks: other systems (the counters' platform, a messaging bot) are told of changes to cases.

An administrator registers a URL, the event types it wants and a secret. Every matching change writes one row
per webhook into ``webhook_outbox`` in the transaction of the change (so a message exists exactly when the change
does); the scheduler process delivers them (``deliver_due``): a POST of ``{"id", "type", "at", "case"}`` signed
with ``X-Gonghui-Signature: sha256=<HMAC-SHA256 of the body>``, each webhook's messages of one case in order,
retried with exponential backoff for 24 hours, every attempt logged in ``webhook_deliveries``. At least once: a
receiver must treat a repeated ``id`` as already seen.

Only ``http``/``https`` URLs; targets on loopback, private, link-local or otherwise reserved addresses are refused
unless their host is listed in ``GONGHUI_WEBHOOK_ALLOW_HOSTS`` (comma-separated names or addresses), both when
the webhook is registered and before each delivery (a name may resolve elsewhere later).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import os
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.auth import Principal
from api.deadlines import SHANGHAI
from api.models_ownership import Webhook, WebhookDelivery, WebhookOutbox
from api.transaction_cache import per_transaction
from api.writers import CaseRecord, CaseWriter
from workflow.definitions import Definition
from workflow.errors import InvalidData

log = logging.getLogger(__name__)

EVENT_TYPES = ("case.opened", "case.escalated", "case.assigned", "case.taken_over", "case.urged", "case.overdue",
               "case.closed", "claim.paid")
RETRY_FOR = timedelta(hours=24)
FIRST_RETRY_SECONDS = 10
LONGEST_WAIT_SECONDS = 30 * 60   # a receiver back after a long outage is reached within half an hour
TIMEOUT_SECONDS = 5
# messages of different queues posted at once; one by default: on a small machine threads cost more than they save
SENDING_THREADS = 1


# ---- registration ----------------------------------------------------------------------------------------

def allowed_hosts(setting: Any) -> frozenset[str]:
    return frozenset(part.strip().lower().strip("[]") for part in str(setting or "").split(",") if part.strip())


def configured_allow_hosts(config: Any) -> frozenset[str]:
    """The hosts of ``GONGHUI_WEBHOOK_ALLOW_HOSTS``: the app's setting, and the environment as it is now."""
    return allowed_hosts(config.get("WEBHOOK_ALLOW_HOSTS")) | allowed_hosts(
        os.environ.get("GONGHUI_WEBHOOK_ALLOW_HOSTS"))


def refused_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    return not ip.is_global or ip.is_multicast


def check_target(url: str, allow: frozenset[str], resolve: Callable[[str], list[str]] | None = None) -> list[str]:
    """Every reason the URL may not be a webhook target ([] when it may)."""
    try:
        parts = urlsplit(url)
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        return ["URL 无效"]
    if parts.scheme not in ("http", "https"):
        return ["只接受 http 或 https 地址"]
    if not host:
        return ["URL 缺少主机名"]
    if parts.username or parts.password:
        return ["URL 中不能包含用户名或密码"]
    if host in allow:
        return []
    del port
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
            return [f"不允许指向本机或内部网络的地址：{host}"]
        try:
            addresses = (resolve or _resolve)(host)
        except OSError:
            return []   # not resolvable now: checked again before each delivery
    bad = [address for address in addresses if refused_address(address)]
    if bad:
        return [f"不允许指向本机、内网或保留地址：{host}（{bad[0]}），如确需使用请配置 GONGHUI_WEBHOOK_ALLOW_HOSTS"]
    return []


def _resolve(host: str) -> list[str]:
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None)})


def register(session: Session, principal: Principal, url: str, events: list[str], secret: str, now: datetime,
             allow: frozenset[str]) -> Webhook:
    faults: dict[str, list[str]] = {}
    reasons = check_target(url, allow)
    if reasons:
        faults["url"] = reasons
    unknown = [name for name in events if name not in EVENT_TYPES]
    if unknown:
        faults["events"] = [f"未知的事件类型：{'、'.join(unknown)}（可选：{'、'.join(EVENT_TYPES)}）"]
    if faults:
        raise InvalidData(faults, detail="Webhook 登记有误：" + "、".join(sorted(faults)))
    webhook = Webhook(url=url, events=sorted(set(events)), secret=secret, active=True,
                      created_by=principal.username, created_at=now)
    session.add(webhook)
    session.flush()
    return webhook


# ---- the outbox ------------------------------------------------------------------------------------------

_ACTIVE = "gonghui.webhooks"

def _active(session: Session) -> list[tuple[int, frozenset[str]]]:
    """The active webhooks and their event types, read once per transaction."""
    def load() -> list[tuple[int, frozenset[str]]]:
        return [(hook_id, frozenset(events or ())) for hook_id, events in
                session.execute(sa.select(Webhook.id, Webhook.events).where(Webhook.active.is_(True)))]

    hooks: list[tuple[int, frozenset[str]]] = per_transaction(session, _ACTIVE, load)
    return hooks


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(SHANGHAI).isoformat() if moment else None


def case_payload(definition: Definition, case: CaseRecord, version: int) -> dict[str, Any]:
    """The case as a viewer without any right to personal data sees it (no caller: every personal field masked)."""
    from api.present import masked_data

    return {"id": case.id, "number": case.number, "definition": case.definition_key,
            "definition_version": case.definition_version, "state": case.state,
            "state_label": definition.states[case.state].label, "level": case.level,
            "org_unit": case.org_unit.code, "org_unit_name": case.org_unit.name,
            "data": masked_data(case, None), "due_at": _iso(case.due_at), "overdue": bool(case.overdue),
            "closed": bool(case.closed), "version": version, "created_at": _iso(case.created_at),
            "updated_at": _iso(case.updated_at)}


def enqueue(writer: CaseWriter, definition: Definition, case: CaseRecord, event_type: str, now: datetime,
            version: int) -> None:
    """One outbox row per active webhook that wants ``event_type``, written through ``writer`` with the change."""
    hooks = [hook_id for hook_id, types in _active(writer.session) if event_type in types]
    if not hooks:
        return
    payload = case_payload(definition, case, version)
    rows = []
    for hook_id in hooks:
        event_id = str(uuid.uuid4())
        body = json.dumps({"id": event_id, "type": event_type, "at": _iso(now), "case": payload},
                          ensure_ascii=False, separators=(",", ":"), default=str)
        rows.append({"webhook_id": hook_id, "case_id": case.id, "event_id": event_id, "type": event_type,
                     "body": body, "status": "pending", "attempts": 0, "created_at": now, "next_attempt_at": now,
                     "delivered_at": None})
    writer.insert(WebhookOutbox.__table__, rows)


# ---- delivery --------------------------------------------------------------------------------------------

def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Answer:
    status: int | None
    text: str | None
    error: str | None


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = TIMEOUT_SECONDS) -> Answer:
    """POST without following redirects (a redirect is an answer like any other, not a new target)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return Answer(response.status, response.read(2000).decode("utf-8", "replace"), None)
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read(2000).decode("utf-8", "replace") if error.fp else None, None)
    except (urllib.error.URLError, OSError, ValueError) as error:
        return Answer(None, None, f"{type(error).__name__}: {getattr(error, 'reason', error)}"[:500])


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# no proxies from the environment (a webhook goes to the address checked), no redirects followed
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


def backoff(attempts: int) -> timedelta:
    """10 s, 20 s, 40 s, ... doubling up to half an hour between tries."""
    return timedelta(seconds=min(LONGEST_WAIT_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1)))


def _heads(session: Session, at: datetime, limit: int) -> list[Any]:
    """The first pending message of each (webhook, case) queue that is due: a later message of a case waits
    until the one before it is delivered (or given up)."""
    outbox = WebhookOutbox.__table__
    earlier = outbox.alias("earlier")
    waiting = sa.select(earlier.c.id).where(earlier.c.webhook_id == outbox.c.webhook_id,
                                           earlier.c.case_id == outbox.c.case_id,
                                           earlier.c.status == "pending", earlier.c.id < outbox.c.id).exists()
    query = (sa.select(outbox.c.id, outbox.c.webhook_id, outbox.c.body, outbox.c.attempts, outbox.c.created_at,
                       outbox.c.next_attempt_at, Webhook.url, Webhook.secret)
             .join(Webhook, Webhook.id == outbox.c.webhook_id)
             .where(outbox.c.status == "pending", outbox.c.next_attempt_at <= at, sa.not_(waiting))
             .order_by(outbox.c.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=outbox, skip_locked=True)
    return list(session.execute(query))


def deliver_due(session_factory: Callable[[], Session], at: datetime, *, allow: frozenset[str] = frozenset(),
                sender: Callable[[str, bytes, dict[str, str]], Answer] = post, batch: int = 200,
                clock: Callable[[], datetime] | None = None, threads: int = SENDING_THREADS) -> int:
    """Deliver every message due at ``at``; returns the number of attempts made. Each batch is one transaction:
    its messages (each the first waiting in its queue, so no two of one case) are posted (``threads`` at a time
    when more than one), then their outcome and the attempts' log are written (one statement per table) and
    committed together (a process that dies meanwhile posts them again: at least once)."""
    attempts = 0
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="webhook") if threads > 1 else None
    try:
        while True:
            with session_factory() as session:
                messages = _heads(session, at, batch)
                if not messages:
                    return attempts
                count = len(messages)
                results = (list(pool.map(_deliver, messages, [at] * count, [allow] * count, [sender] * count))
                           if pool is not None else [_deliver(message, at, allow, sender) for message in messages])
                attempts += count
                _record(session, results)
                session.commit()
            if clock is not None:
                at = clock()
    finally:
        if pool is not None:
            pool.shutdown()


def _record(session: Session, results: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """The attempts' log and the messages' new state, one statement per table."""
    logged = [entry for entry, _ in results]
    updates = [update for _, update in results]
    session.execute(sa.insert(WebhookDelivery.__table__), logged)
    outbox = WebhookOutbox.__table__
    session.connection().execute(
        sa.update(outbox).where(outbox.c.id == sa.bindparam("m_id")).values(
            status=sa.bindparam("m_status"), attempts=sa.bindparam("m_attempts"),
            next_attempt_at=sa.bindparam("m_next", type_=outbox.c.next_attempt_at.type),
            delivered_at=sa.bindparam("m_delivered", type_=outbox.c.delivered_at.type)), updates)


def _deliver(message: Any, at: datetime, allow: frozenset[str],
             sender: Callable[[str, bytes, dict[str, str]], Answer]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Post one message; returns its row of the delivery log and the new values of its outbox row."""
    body = message.body.encode()
    started = time.monotonic()
    reasons = check_target(message.url, allow)
    if reasons:
        answer = Answer(None, None, reasons[0][:500])
    else:
        answer = sender(message.url, body, {"Content-Type": "application/json; charset=utf-8",
                                            "User-Agent": "gonghui-workflow-webhook",
                                            "X-Gonghui-Signature": signature(message.secret, body)})
    attempt = message.attempts + 1
    entry = {"webhook_id": message.webhook_id, "outbox_id": message.id, "attempt": attempt, "at": at,
             "status_code": answer.status, "response": answer.text, "error": answer.error,
             "duration_ms": int((time.monotonic() - started) * 1000)}
    update = {"m_id": message.id, "m_attempts": attempt, "m_status": "pending", "m_next": message.next_attempt_at,
              "m_delivered": None}
    if answer.status is not None and 200 <= answer.status < 300:
        update.update(m_status="delivered", m_delivered=at)
    elif at - message.created_at >= RETRY_FOR:
        update["m_status"] = "failed"
        log.warning("webhook message %s given up after %s attempts", message.id, attempt)
    else:
        update["m_next"] = at + backoff(attempt)
    return entry, update


def deliveries(session: Session, webhook_id: int, page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
    log_table, outbox = WebhookDelivery.__table__, WebhookOutbox.__table__
    total = session.scalar(sa.select(sa.func.count()).select_from(log_table)
                           .where(log_table.c.webhook_id == webhook_id)) or 0
    rows = session.execute(
        sa.select(log_table, outbox.c.event_id, outbox.c.type, outbox.c.case_id, outbox.c.status.label("outcome"))
        .join(outbox, outbox.c.id == log_table.c.outbox_id).where(log_table.c.webhook_id == webhook_id)
        .order_by(log_table.c.id.desc()).limit(per_page).offset((page - 1) * per_page))
    return [{"id": row.id, "event_id": row.event_id, "type": row.type, "case": row.case_id,
             "attempt": row.attempt, "at": row.at.astimezone(SHANGHAI), "status_code": row.status_code,
             "response": row.response, "error": row.error, "duration_ms": row.duration_ms,
             "delivered": row.status_code is not None and 200 <= row.status_code < 300,
             "message_status": row.outcome} for row in rows], total

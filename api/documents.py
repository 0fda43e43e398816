"""The papers a case gives its parties (受理回执, 一次性告知书, 调解协议书, decisions, 建会告知书): which ones a
case's state allows, what each says, and the same Jinja template rendered for the screen or, through WeasyPrint,
as a PDF with the Chinese font embedded.

A PDF is typeset with what WeasyPrint would otherwise rebuild for every document kept for the life of the thread
(``Typesetter``): the font configuration (Fontconfig and Pango's font map, whose loaded fonts then stay loaded) with
the documents' cut-down Chinese font (``api.document_font``), ``documents.css`` parsed once, and the URL fetcher.
The HTML given to WeasyPrint carries no style of its own. Python's cyclic garbage collector is held off while a
document is typeset.

Case data reaches a document only through ``api.present.masked_data`` (the masking choke point).
May import models, lifecycles and ``api.present``; never a view.
"""

from __future__ import annotations

import atexit
import functools
import gc
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import segno
from flask import current_app, render_template, request, url_for
from markupsafe import Markup

from api import document_font
from api.auth import Principal
from api.deadlines import last_day, written_date
from api.extensions import current_session
from api.models import Case, OrgUnit
from api.models_documents import contact_of
from api.present import engine, local, masked_data
from api.ui.labels import choice_label, field_label
from workflow.definitions import Definition
from workflow.errors import Conflict, RecordNotFound

if TYPE_CHECKING:
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

STYLESHEET = Path(__file__).parent / "static" / "ui" / "documents.css"
CLAIM, MEDIATION, REPORT, FORMATION = "medical_aid_claim", "mediation_case", "worker_report", "union_formation"
DECISION_TITLES = {MEDIATION: "不予受理通知书", CLAIM: "不予补助通知书", REPORT: "不予受理告知书"}
DECIDED_STATES = {MEDIATION: "rejected", CLAIM: "rejected", REPORT: "declined"}
PUBLIC_PAGES = {CLAIM: "public.claim_status", REPORT: "public.report_status"}


class UnknownKind(RecordNotFound):
    """No document of that kind exists (404, naming those that do)."""

    title = "没有这种文书"

    def __init__(self, kind: str) -> None:
        super().__init__(f"没有“{kind}”这种文书；可有：{'、'.join(KINDS)}", kind=kind)


@dataclass(frozen=True)
class Kind:
    name: str
    title: Callable[[Case], str]
    allowed: Callable[[Case], bool]


def _definition(case: Case) -> Definition:
    return engine().catalog.get(case.definition_key, case.definition_version)


def _missing(case: Case) -> list[dict[str, str]]:
    from api.lifecycles.medical_aid_claim import missing_items

    return missing_items(_definition(case), case.data) if case.definition_key == CLAIM else []


KINDS: dict[str, Kind] = {kind.name: kind for kind in [
    Kind("receipt", lambda case: "受理回执", lambda case: True),
    Kind("notice", lambda case: "一次性告知书",
         lambda case: case.definition_key == CLAIM and case.state == "awaiting_documents" and bool(_missing(case))),
    Kind("agreement", lambda case: "调解协议书",
         lambda case: case.definition_key == MEDIATION and isinstance(case.data.get("agreement"), dict)),
    Kind("decision", lambda case: DECISION_TITLES.get(case.definition_key, "决定书"),
         lambda case: DECIDED_STATES.get(case.definition_key) == case.state),
    Kind("formation_notice", lambda case: "建会告知书",
         lambda case: case.definition_key == FORMATION and bool(case.data.get("notice_date"))),
]}


def allowed(case: Case) -> list[str]:
    """The kinds of document this case's state allows, in the order a clerk hands them over."""
    return [name for name, kind in KINDS.items() if kind.allowed(case)]


def listing(case: Case) -> list[dict[str, str]]:
    return [{"kind": name, "title": KINDS[name].title(case),
             "url": url_for("documents.CaseDocument", case_id=case.id, kind=name)} for name in allowed(case)]


def check(case: Case, kind: str) -> None:
    """Raise ``UnknownKind`` for a kind that does not exist; ``DocumentNotAllowed`` for one the state refuses."""
    if kind not in KINDS:
        raise UnknownKind(kind)
    if not KINDS[kind].allowed(case):
        raise DocumentNotAllowed(case, kind, allowed(case))


class DocumentNotAllowed(Conflict):
    """The case's state does not allow that document (409, naming those it allows in ``allowed_kinds``)."""

    title = "当前状态不能出具此文书"

    def __init__(self, case: Case, kind: str, allowed: list[str]) -> None:
        titles = "、".join(f"{name}（{KINDS[name].title(case)}）" for name in allowed)
        super().__init__(f"案件当前状态不能出具“{kind}”；可出具：{titles}", allowed_kinds=allowed)
        self.kind, self.allowed = kind, allowed


# ---- what a document says ------------------------------------------------------------------------------

def public_url(case: Case) -> str | None:
    """Where the party follows the case without an account (the number filled in), if such a page exists."""
    endpoint = PUBLIC_PAGES.get(case.definition_key)
    if endpoint is None:
        return None
    base = current_app.config.get("PUBLIC_BASE_URL") or request.host_url
    return base.rstrip("/") + url_for(endpoint, number=case.number)


def qr_svg(url: str, scale: int = 3) -> Markup:
    """A QR code as inline SVG (no script, no style attribute: fine under the strict CSP and in WeasyPrint)."""
    return Markup(segno.make(url, error="m").svg_inline(scale=scale, title="二维码", border=2))


def qr_png(url: str, scale: int = 3) -> str:
    """A QR code as a PNG ``data:`` URI (allowed by the strict CSP's ``img-src``), ``scale`` pixels a module: one
    image to WeasyPrint, where an inline SVG's path is parsed again and drawn stroke by stroke in every document."""
    return str(segno.make(url, error="m").png_data_uri(scale=scale, border=2))


@functools.lru_cache(maxsize=256)
def follow_qr(url: str) -> str:
    """The QR code of a document's follow-up URL (no secret in it, only the number): the same for every reprint."""
    return qr_png(url)


def _received(case: Case, data: dict[str, Any]) -> list[tuple[str, str]]:
    """What the unit received, as label/value lines."""
    key = case.definition_key
    if key == CLAIM:
        labels = _definition(case).config["documents"]
        invoices = data.get("invoices") or []
        total = sum((Decimal(str(item.get("amount", "0"))) for item in invoices), Decimal("0"))
        return [("申请人", str(data["member"]["name"])), ("身份证号", str(data["member"]["id_number"])),
                ("报销类别", choice_label(data.get("claim_type"))), ("就诊医院", str(data.get("hospital", ""))),
                ("住院/就诊期间", f"{data.get('admitted_on', '')} 至 {data.get('discharged_on', '')}"),
                ("合规自付金额", f"{data.get('eligible_self_pay', '')} 元"),
                ("发票", f"{len(invoices)} 张，合计 {total:.2f} 元"),
                ("已交材料", "、".join(labels.get(code, code) for code in data.get("documents") or []) or "无")]
    if key == MEDIATION:
        applicants = "、".join(str(person.get("name", "")) for person in data.get("applicants") or [])
        return [("申请人", applicants), ("被申请人", str((data.get("respondent") or {}).get("name", ""))),
                ("争议类型", choice_label(data.get("dispute_type"))), ("请求事项", str(data.get("claims", ""))),
                ("涉及金额", f"{data.get('amount', '')} 元"), ("申请方式", choice_label(data.get("channel")))]
    if key == REPORT:
        rows = [("反映单位", str(data.get("employer", ""))), ("问题类别", choice_label(data.get("category"))),
                ("反映内容", str(data.get("description", "")))]
        if data.get("anonymous"):
            rows.append(("反映人", "匿名"))
        return rows
    if key == FORMATION:
        enterprise = data.get("enterprise") or {}
        return [("企业名称", str(enterprise.get("name", ""))), ("统一社会信用代码", str(enterprise.get("uscc", ""))),
                ("参保职工", f"{enterprise.get('insured_staff', '')} 人"), ("建会方式", choice_label(data.get("kind")))]
    return [(field_label(name), str(value)) for name, value in data.items() if not isinstance(value, dict | list)]


def _common(case: Case, kind: str, principal: Principal, moment: datetime) -> dict[str, Any]:
    definition = engine().catalog.get(case.definition_key, case.definition_version)
    unit: OrgUnit = case.org_unit
    holder, contact = contact_of(current_session(), unit)
    url = public_url(case)
    return {"kind": kind, "title": KINDS[kind].title(case), "case": case, "number": case.number,
            "definition_title": definition.title, "state_label": definition.states[case.state].label,
            "unit": unit.name, "contact_unit": holder.name, "contact": contact,
            "issued_on": written_date(local(moment).date()),
            "received_on": written_date(local(case.created_at).date()),
            "due_on": written_date(last_day(case.due_at)) if case.due_at and not case.closed else "",
            "due_state": definition.states[case.state].label,
            "follow_url": url, "follow_qr": follow_qr(url) if url else None,
            "data": masked_data(case, principal)}


def _notice(case: Case, context: dict[str, Any]) -> dict[str, Any]:
    missing = _missing(case)
    supplement = any(entry.event == "supplement" for entry in _history(case))
    return {"missing": missing, "supplement_by": context["due_on"], "reprinted": supplement}


def _history(case: Case) -> list[Any]:
    from api.history import history_of

    return list(history_of(current_session(), case))


def _decision(case: Case, context: dict[str, Any]) -> dict[str, Any]:
    decided = next((entry for entry in reversed(_history(case)) if entry.to_state == case.state), None)
    reason = (decided.data or {}).get("reason") if decided is not None else None
    parent = case.org_unit.parent
    extra: dict[str, Any] = {"reason": reason or context["data"].get("reason", ""),
                             "decided_on": written_date(local(decided.at).date()) if decided else "",
                             "parent_unit": parent.name if parent is not None else ""}
    if case.definition_key == CLAIM:
        extra["reexamination_days"] = _definition(case).config.get("reexamination_days")
        extra["city_unit"] = _root_unit(case).name
    return extra


def _root_unit(case: Case) -> OrgUnit:
    unit = case.org_unit
    while unit.parent is not None:
        unit = unit.parent
    return unit


def _agreement(case: Case, context: dict[str, Any]) -> dict[str, Any]:
    agreement = context["data"].get("agreement") or {}
    perform_by = agreement.get("perform_by")
    agreed = next((entry for entry in reversed(_history(case)) if entry.event == "agree"), None)
    level = case.org_unit.level
    organisation = (f"{case.org_unit.name}劳动争议调解委员会" if level == "enterprise"
                    else f"{case.org_unit.name}劳动人事争议联合调解中心")
    return {"agreement": agreement, "organisation": organisation,
            "perform_by": written_date(date.fromisoformat(perform_by)) if perform_by else "",
            "agreed_on": written_date(local(agreed.at).date()) if agreed else "",
            "mediator": context["data"].get("mediator", "")}


def _formation(case: Case, context: dict[str, Any]) -> dict[str, Any]:
    definition = engine().catalog.get(case.definition_key, case.definition_version)
    notice_date = context["data"].get("notice_date")
    return {"threshold": definition.config.get("threshold_staff"),
            "notice_on": written_date(date.fromisoformat(notice_date)) if notice_date else "",
            "enterprise": context["data"].get("enterprise") or {}}


EXTRA: dict[str, Callable[[Case, dict[str, Any]], dict[str, Any]]] = {
    "notice": _notice, "decision": _decision, "agreement": _agreement, "formation_notice": _formation}


def context(case: Case, kind: str, principal: Principal, moment: datetime) -> dict[str, Any]:
    """Everything the template of ``kind`` prints about ``case`` for ``principal`` (masked as the role sees it)."""
    check(case, kind)
    found = _common(case, kind, principal, moment)
    found["received"] = _received(case, found["data"])
    if kind in EXTRA:
        found.update(EXTRA[kind](case, found))
    return found


def render_html(case: Case, kind: str, principal: Principal, moment: datetime, *, inline_style: bool = False) -> str:
    """The standalone printable page: the style inline (a file that stands alone), linked for a browser (strict CSP)."""
    style = Markup(STYLESHEET.read_text(encoding="utf-8")) if inline_style else None
    return _page(case, kind, principal, moment, style=style, linked=not inline_style)


def _page(case: Case, kind: str, principal: Principal, moment: datetime, *, style: Markup | None,
          linked: bool) -> str:
    return render_template("documents/page.html", doc=context(case, kind, principal, moment), stylesheet=style,
                           linked=linked)


class Typesetter:
    """WeasyPrint's set-up for documents, made once per thread: a new ``FontConfiguration`` costs a Fontconfig load
    and a Pango font map that loads every font again, and parsing ``documents.css`` costs as much as laying out half
    a page. Pango's font map must not be shared between threads, hence one per thread (gunicorn's gthread workers
    keep their threads). The stylesheet is parsed again when its file changes. The documents' cut-down font
    (``api.document_font``) is added to the font configuration at the first document given its folder."""

    def __init__(self) -> None:
        from weasyprint.text.fonts import FontConfiguration

        self.fonts: FontConfiguration = FontConfiguration()
        self.font: Path | None = None
        self._font_faces: CSS | None = None
        self._stylesheet: CSS | None = None
        self._stylesheet_stamp: float | None = None
        self.fetcher: Any = _url_fetcher()

    def stylesheet(self) -> CSS:
        from weasyprint import CSS

        stamp = STYLESHEET.stat().st_mtime
        if self._stylesheet is None or stamp != self._stylesheet_stamp:
            self._stylesheet = CSS(string=STYLESHEET.read_text(encoding="utf-8"), font_config=self.fonts)
            self._stylesheet_stamp = stamp
        return self._stylesheet

    def use_font(self, folder: Path) -> None:
        """Typeset with the cut-down font kept in ``folder`` (made there now if needed); once per thread."""
        from weasyprint import CSS

        if self._font_faces is not None:
            return
        self.font = document_font.prepared(folder)
        face = f'@font-face {{ font-family: "{document_font.FAMILY}"; src: url("{self.font.as_uri()}"); }}' \
            if self.font is not None else ""
        self._font_faces = CSS(string=face, font_config=self.fonts)

    def pdf(self, html: str) -> bytes:
        from weasyprint import HTML

        stylesheets = [self.stylesheet()] + ([self._font_faces] if self._font_faces is not None else [])
        with collector_paused:
            pdf: bytes = HTML(string=html, url_fetcher=self.fetcher).write_pdf(stylesheets=stylesheets,
                                                                             font_config=self.fonts)
        return pdf


def _url_fetcher() -> Any:
    """The URL fetcher of a thread's documents, made once: WeasyPrint 68 and later build one for every document
    given none (a urllib opener, its nine handlers, the proxies read from the environment: ~0.3 ms). It fetches
    ``data:`` URIs (the QR code) and local files only: a document never reaches the network. Before WeasyPrint 68
    the fetcher is a function, and ``None`` keeps it."""
    try:
        from weasyprint.urls import URLFetcher
    except ImportError:
        return None
    return URLFetcher(allowed_protocols=("data", "file"))


class _CollectorPause:
    """Python's cyclic garbage collector held off while documents are typeset. WeasyPrint keeps thousands of
    objects alive at once while it lays out a page (boxes, styles, text layouts), which set off five or six
    collections of the young generations a document and, every twenty documents or so, one of the whole heap (the
    app's long-lived objects with it): ~10 ms of collection a receipt in the benchmark's process, ~3 ms once held
    off (what a document leaves is collected once afterwards). Counted, so that with several threads typesetting
    the collector comes back when the last one is done, and only if it was on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._was_enabled = False

    def __enter__(self) -> None:
        with self._lock:
            if self._holders == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._holders += 1

    def __exit__(self, *exception: object) -> None:
        with self._lock:
            self._holders -= 1
            if self._holders == 0 and self._was_enabled:
                gc.enable()


collector_paused = _CollectorPause()


_threads = threading.local()
# A typesetter's font configuration removes its folder of font files when dropped: drop this thread's before the
# interpreter takes the modules it needs apart.
atexit.register(vars(_threads).clear)


def typesetter() -> Typesetter:
    """This thread's ``Typesetter``."""
    found: Typesetter | None = getattr(_threads, "typesetter", None)
    if found is None:
        found = _threads.typesetter = Typesetter()
    return found


def font_folder() -> Path:
    """Where the documents' cut-down font is kept: ``DOCUMENT_FONT_FOLDER``, or ``fonts`` in the instance folder."""
    configured = current_app.config.get("DOCUMENT_FONT_FOLDER")
    return Path(configured) if configured else Path(current_app.instance_path) / "fonts"


def render_pdf(case: Case, kind: str, principal: Principal, moment: datetime) -> bytes:
    setter = typesetter()
    setter.use_font(font_folder())
    return setter.pdf(_page(case, kind, principal, moment, style=None, linked=False))


def filename(case: Case, kind: str) -> str:
    return f"{case.number}-{kind}.pdf"


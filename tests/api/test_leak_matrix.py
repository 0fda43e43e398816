"""The leak matrix: cases of every lifecycle carrying known personal values are seeded; then every GET route of
the OpenAPI document and every web page is requested as every demo user (and as nobody), and each whole response
body is searched for each value. A value shown to a user the definition's ``personal:`` rules do not allow is a
leak; a value an allowed user does not see where the route shows that case is a failure too; and every value
shown unmasked must have left an access record for that user and case.

Who is allowed is computed here, simply and apart from the service's code, from the definitions' YAML: the case
must be in the user's scope (its unit or a unit below), and one ``seen_by`` entry must match (the role, and
``@owner``: the user's unit handles the case; ``@<level>``: the user's unit is of that level).

Adding a route: the OpenAPI path (or, for a page, the endpoint name) goes into ``API_ROUTES`` / ``PAGES`` with
the URLs to request; ``shows`` names the seeded cases whose personal data the URL presents, so that the users
allowed to see them are checked to see them. A route without an entry fails ``test_every_route_is_in_the_matrix``.
"""

from __future__ import annotations

import dataclasses
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from flask import Flask
from flask.testing import FlaskClient

from api import demo
from api.extensions import db
from api.models_medical import AccessRecord
from tests.api.test_ui_pages import signed_in
from tests.conftest import Api, mediation_data

DEFINITIONS = Path(__file__).resolve().parents[2] / "definitions"
USERS: list[str | None] = [username for username, *_ in demo.USERS] + [None]   # None: no account at all
ALL_DOCUMENTS = ["id_card", "bank_card", "invoice", "itemized_bill", "insurance_settlement", "discharge_summary"]


@dataclass
class Seeded:
    """A case opened for the matrix, and the personal values it carries: data path → value."""

    name: str
    definition: str
    id: int
    number: str
    org_unit: str
    data: dict[str, Any]
    values: dict[str, list[str]]
    secret: str | None = None
    kind: str = "case"   # or "employer": an employer's roster contact (``id`` the employer's, ``number`` its code)


@dataclass
class World:
    cases: list[Seeded] = field(default_factory=list)
    employers: list[Seeded] = field(default_factory=list)   # employers with their roster contact
    roster_job: str = ""   # the token of a roster import made on the web page

    def of(self, definition: str) -> list[Seeded]:
        return [case for case in self.cases if case.definition == definition]

    def named(self, name: str) -> Seeded:
        return next(case for case in self.cases if case.name == name)


@dataclass(frozen=True)
class Probe:
    url: str
    shows: tuple[str, ...] = ()   # the seeded cases (by name) whose personal data this URL presents when it answers 200
    headers: tuple[tuple[str, str], ...] = ()


def each_case(template: str, cases: Callable[[World], list[Seeded]] | None = None,
              shows: bool = True) -> Callable[[World], list[Probe]]:
    def probes(world: World) -> list[Probe]:
        found = []
        for case in cases(world) if cases else world.cases:
            id_number = case.data.get("member", {}).get("id_number", "")
            url = template.format(id=case.id, number=case.number, definition=case.definition,
                                  last4=id_number[-4:], last6=id_number[-6:])
            found.append(Probe(url, (case.name,) if shows else ()))
        return found
    return probes


def fixed(*urls: str, shows_all: bool = False) -> Callable[[World], list[Probe]]:
    return lambda world: [Probe(url, tuple(case.name for case in world.cases) if shows_all else ()) for url in urls]


def per_definition(template: str) -> Callable[[World], list[Probe]]:
    return lambda world: [Probe(template.format(key=key)) for key in sorted({case.definition for case in world.cases})]


def claims(world: World) -> list[Seeded]:
    return world.of("medical_aid_claim")


def intake_status(world: World) -> list[Probe]:
    return [Probe(f"/api/v1/intake/worker-reports/{case.number}", (), (("X-Report-Secret", case.secret),))
            for case in world.of("worker_report") if case.secret]


# OpenAPI path → the URLs requested for it.
API_ROUTES: dict[str, Callable[[World], list[Probe]]] = {
    "/api/v1/cases": fixed("/api/v1/cases?per_page=100", "/api/v1/cases?per_page=100&sort=due_at", shows_all=True),
    "/api/v1/cases/{case_id}": each_case("/api/v1/cases/{id}"),
    "/api/v1/cases/{case_id}/history": each_case("/api/v1/cases/{id}/history"),
    "/api/v1/worklist": fixed("/api/v1/worklist?per_page=200"),
    "/api/v1/counters/claims/{number}": each_case("/api/v1/counters/claims/{number}?id_last6={last6}", claims, False),
    "/api/v1/counters/claims/{number}/notice": each_case("/api/v1/counters/claims/{number}/notice", claims, False),
    "/api/v1/intake/worker-reports/{number}": intake_status,
    "/api/v1/reports/{definition}": per_definition("/api/v1/reports/{key}"),
    "/api/v1/definitions": fixed("/api/v1/definitions"),
    "/api/v1/definitions/{key}": per_definition("/api/v1/definitions/{key}"),
    "/api/v1/definitions/{key}/diagram": each_case("/api/v1/definitions/{definition}/diagram?case={id}", shows=False),
    "/api/v1/definitions/{key}/versions": per_definition("/api/v1/definitions/{key}/versions"),
    "/api/v1/admin/definitions/{key}/diff": per_definition("/api/v1/admin/definitions/{key}/diff?from=1&to=1"),
    "/api/v1/enterprises": lambda world: [Probe("/api/v1/enterprises?per_page=500",
                                                tuple(employer.name for employer in world.employers))],
    "/api/v1/org-units": fixed("/api/v1/org-units"),
    "/api/v1/org-units/{code}/term": fixed("/api/v1/org-units/cd-e001/term", "/api/v1/org-units/dx-e001/term"),
    "/api/v1/admin/users": fixed("/api/v1/admin/users"),
    "/api/v1/admin/tokens": fixed("/api/v1/admin/tokens", "/api/v1/admin/tokens?kind=session"),
    "/api/v1/admin/log": fixed("/api/v1/admin/log"),
    "/api/v1/admin/calendar": fixed("/api/v1/admin/calendar"),
    "/api/v1/cases/{case_id}/documents": each_case("/api/v1/cases/{id}/documents", shows=False),
    "/api/v1/cases/{case_id}/documents/{kind}.pdf": each_case("/api/v1/cases/{id}/documents/receipt.pdf", shows=False),
    "/api/v1/notifications": fixed("/api/v1/notifications?per_page=200", "/api/v1/notifications?unread=true"),
    "/api/v1/admin/webhooks": fixed("/api/v1/admin/webhooks"),
    "/api/v1/admin/webhooks/{webhook_id}": fixed("/api/v1/admin/webhooks/1"),
    "/api/v1/admin/webhooks/{webhook_id}/deliveries": fixed("/api/v1/admin/webhooks/1/deliveries"),
}

# Web pages and every other GET address outside /api/v1, by endpoint → the URLs requested.
PAGES: dict[str, Callable[[World], list[Probe]]] = {
    "ui.login": fixed("/login"),
    "ui.home": fixed("/"),
    "ui.worklist": lambda world: [Probe("/worklist")] + [
        Probe(f"/worklist?q={case.number}") for case in world.cases],
    "ui.case_page": each_case("/cases/{id}"),
    "ui.new_case": per_definition("/new/{key}"),
    "ui.counter": fixed("/counter"),
    "ui.receipt": each_case("/counter/receipts/{id}", claims),
    "ui.dashboard": fixed("/dashboard"),
    "ui.export": lambda world: [Probe(f"/dashboard/{key}.{kind}") for key in sorted({c.definition for c in world.cases})
                                for kind in ("csv", "xlsx")] + [Probe("/dashboard/all.xlsx")],
    "ui.admin": fixed("/admin"),
    "ui.definitions_page": fixed("/admin/definitions"),
    "ui.definition_diff_page": per_definition("/admin/definitions/{key}/diff?from=1&to=1"),
    "ui.migration_page": per_definition("/admin/definitions/{key}/migrate"),
    "ui.notifications": fixed("/notifications", "/notifications?unread=1"),
    "ui.account_password": fixed("/account/password"),
    "ui.document_page": each_case("/cases/{id}/documents/receipt", shows=False),
    "ui.document_pdf": each_case("/cases/{id}/documents/receipt.pdf", shows=False),
    "public.index": fixed("/public/"),
    "public.report": fixed("/public/report"),
    "public.employers": fixed("/public/employers?q=温岭"),
    "public.report_status": lambda world: [Probe(f"/public/report/status?number={case.number}")
                                           for case in world.of("worker_report")],
    "public.claim_status": each_case("/public/claim/status?number={number}", claims, False),
    "public.static": fixed("/public/static/public.css"),
    "ui.calendar_grid": fixed("/admin/calendar"),
    "ui.roster_import": fixed("/roster"),
    "ui.roster_job": lambda world: [Probe(f"/roster/imports/{world.roster_job}")],
    "ui.roster_progress": lambda world: [Probe(f"/roster/imports/{world.roster_job}/progress")],
    "ui.roster_rejected": lambda world: [Probe(f"/roster/imports/{world.roster_job}/rejected.csv")],
    "ui.employers": lambda world: [Probe("/employers", ("employer@chengdong",)),
                                   Probe("/employers?list=candidates", ("employer@daxi",))],
    "health.healthz": fixed("/healthz"),
    "health.metrics": fixed("/metrics"),
    "static": fixed("/static/swagger-ui/swagger-ui.css"),
    "ui.static": fixed("/ui-static/app.js"),
}


# ---- who may see what, from the definitions' YAML -------------------------------------------------------

RULES = {path.name.split(".")[0]: yaml.safe_load(path.read_text(encoding="utf-8")).get("personal") or {}
         for path in sorted(DEFINITIONS.glob("*.yaml"))}
UNITS = {"wenling": ("wenling/", "city")}
UNITS.update({code: (f"wenling/{code}/", "street") for code, _ in demo.STREETS})
UNITS.update({code: (f"wenling/{street}/{code}/", "enterprise") for code, _, street, _ in demo.ENTERPRISES})
PEOPLE = {username: (unit, set(roles)) for username, unit, roles, _ in demo.USERS}


def flag(data: dict[str, Any], name: str) -> bool:
    node: Any = data
    for part in name.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return bool(node)


# An employer's roster contact (联系人, 联系电话) is not case data: it is seen whole by the clerks and
# administrators of a street or the city who form unions, where the employer's street is in their scope.
EMPLOYER_CONTACT_SEEN_BY = ["clerk@street", "clerk@city", "admin@street", "admin@city"]


def allowed(username: str | None, case: Seeded, path: str) -> bool:
    if username is None:
        return False
    unit, roles = PEOPLE[username]
    unit_path, level = UNITS[unit]
    if not UNITS[case.org_unit][0].startswith(unit_path):
        return False
    if case.kind == "employer":
        return any(grant.partition("@")[0] in roles and grant.partition("@")[2] == level
                   for grant in EMPLOYER_CONTACT_SEEN_BY)
    specs = RULES[case.definition][path]
    spec = next(s for s in (specs if isinstance(specs, list) else [specs])
                if "when" not in s or flag(case.data, s["when"]))
    for grant in spec["seen_by"]:
        role, _, relation = grant.partition("@")
        if role in roles and (not relation or (relation == "owner" and unit == case.org_unit) or relation == level):
            return True
    return False


# ---- the seeded cases -------------------------------------------------------------------------------------

def claim_data(member: tuple[str, str], bank: str, invoice: str, documents: list[str]) -> dict[str, Any]:
    return {"member": {"name": member[0], "id_number": member[1]}, "employer": "温岭市东海鞋业有限公司",
            "claim_type": "inpatient", "hospital": "温岭市第一人民医院", "admitted_on": "2026-11-01",
            "discharged_on": "2026-11-10", "total_cost": "20000.00", "insurance_paid": "12000.00",
            "eligible_self_pay": "5000.00", "invoices": [{"number": invoice, "amount": "20000.00"}],
            "documents": documents, "bank_account": bank}


def seed(api: Api) -> World:
    world = World()

    def opened(name: str, as_: str, definition: str, data: dict[str, Any], values: dict[str, list[str]],
               org_unit: str | None = None) -> Seeded:
        case = api.open_case(as_, definition, data, org_unit)
        seeded = Seeded(name, definition, case["id"], case["number"], case["org_unit"], data, values)
        world.cases.append(seeded)
        return seeded

    for name, as_, unit, id_number, phones in (
            ("mediation@chengdong", "chengdong_mediator", None, "331081199603120017", ["13811110001", "13811110002"]),
            ("mediation@cd-e001", "ent_clerk", None, "331081199906070029", ["13811110003"]),
            ("mediation@daxi", "daxi_clerk", None, "332623199002150034", ["13811110004"])):
        applicants = [{"name": "王小明", "id_number": id_number, "phone": phones[0]}]
        applicants += [{"name": "李红", "phone": phone} for phone in phones[1:]]
        case = opened(name, as_, "mediation_case", mediation_data(applicants=applicants),
                      {"applicants.*.id_number": [id_number], "applicants.*.phone": phones}, unit)
        assert api.fire(case.id, "accept", as_, {"mediator": "李调解"}).status_code == 200

    for name, member, bank, invoice, documents in (
            ("claim-complete", ("张三", "331081199805201237"), "6222021207009990001", "33109001", ALL_DOCUMENTS),
            ("claim-missing", ("李四", "332623198507080786"), "6222021207009990002", "33109002", ["id_card"])):
        data = claim_data(member, bank, invoice, documents)
        response = api.post("/counters/claims", "counter_chengbei", data, headers={"Idempotency-Key": name})
        assert response.status_code == 201, response.get_json()
        case = response.get_json()
        world.cases.append(Seeded(name, "medical_aid_claim", case["id"], case["number"], case["org_unit"], data,
                                  {"member.id_number": [member[1]], "bank_account": [bank]}))
    started = api.fire(world.named("claim-complete").id, "start_review", "chengbei_reviewer")
    assert started.status_code == 200, started.get_json()

    for name, employer, category, anonymous, contact in (
            ("report-anonymous@cd-e001", "温岭市东海鞋业有限公司", "safety", True, "13722220001"),
            ("report-anonymous-wages@chengdong", "温岭市东海鞋业有限公司", "wage_arrears", True, "13722220002"),
            ("report-named@cd-e001", "温岭市东海鞋业有限公司", "overtime_pay", False, "13722220003"),
            ("report-anonymous@dx-e001", "温岭市大溪机电有限公司", "employment", True, "13722220004")):
        data = {"employer": employer, "category": category, "description": "车间问题反映，请核查处理",
                "contact": contact, "anonymous": anonymous}
        response = api.client.post("/api/v1/intake/worker-reports", json=data,
                                   environ_base={"REMOTE_ADDR": f"10.1.0.{len(world.cases)}"})
        assert response.status_code == 201, response.get_json()
        receipt = response.get_json()
        case = next(item for item in api.get("/cases?definition=worker_report&per_page=100", "city_admin")
                    .get_json()["items"] if item["number"] == receipt["number"])
        world.cases.append(Seeded(name, "worker_report", case["id"], case["number"], case["org_unit"], data,
                                  {"contact": [contact]}, receipt["secret"]))
    acknowledged = api.fire(world.named("report-anonymous@cd-e001").id, "acknowledge", "ent_clerk")
    assert acknowledged.status_code == 200
    assert [case.org_unit for case in world.of("worker_report")] == ["cd-e001", "chengdong", "cd-e001", "dx-e001"]

    opened("formation@chengdong", "chengdong_clerk", "union_formation", {
        "kind": "single", "enterprise": {"uscc": "91331081865797549P", "name": "温岭市川创机电有限公司",
                                         "insured_staff": 140, "founded_on": "2008-09-01"}}, {})
    opened("term@chengdong", "chengdong_clerk", "union_term", {
        "union_unit": "cd-e001", "chair": "陈建国", "committee": ["陈建国", "王丽", "李明"],
        "term_start": "2024-03-01"}, {})
    assert {case.definition for case in world.cases} == set(RULES), "a lifecycle without a seeded case"
    seed_roster(api, world)
    return world


def seed_roster(api: Api, world: World) -> None:
    """Two employers with their roster contact, imported on the web page by the city's clerk: one to
    unionise at 城东 (30 insured), one joint-union candidate at 大溪 (10); and a row the import rejects."""
    from bench.roster import HEADER, credit_code
    from tests.api.ui_support import csrf_of

    contacts = {"employer@chengdong": (credit_code(20_000_001), "城东街道", 30, "周海燕", "13655550001"),
                "employer@daxi": (credit_code(20_000_002), "大溪镇", 10, "吴国平", "13655550002")}
    lines = [",".join(HEADER)] + [
        f"{code},温岭市联络测试{name[-5:]}有限公司,{street},机电,{staff},2010-01-01,否,{person},{phone}"
        for name, (code, street, staff, person, phone) in contacts.items()]
    lines.append("91331081000000000X,坏代码有限公司,城东街道,机电,30,2010-01-01,否,,")
    client, _ = signed_in(api.client.application, "city_clerk")
    csrf = csrf_of(client.get("/roster").get_data(as_text=True))
    roster = io.BytesIO("\n".join(lines).encode())
    answer = client.post("/roster", data={"csrf_token": csrf, "file": (roster, "名单.csv")},
                         content_type="multipart/form-data")
    assert answer.status_code == 303, answer.get_data(as_text=True)
    world.roster_job = answer.headers["Location"].rsplit("/", 1)[1]
    with api.client.application.app_context():
        from api.models import Employer

        for name, (code, _street, _staff, person, phone) in contacts.items():
            employer = db.session.scalar(sa.select(Employer).where(Employer.uscc == code))
            assert employer is not None and employer.contact_phone == phone
            world.employers.append(Seeded(name, "employer", employer.id, code, name.split("@")[1], {},
                                          {"contact_name": [person], "contact_phone": [phone]}, kind="employer"))


# ---- the matrix ----------------------------------------------------------------------------------------

@dataclass
class Findings:
    requests: int = 0
    leaks: list[str] = field(default_factory=list)
    unseen: list[str] = field(default_factory=list)
    unrecorded: list[str] = field(default_factory=list)
    shown: int = 0

    def faults(self) -> list[str]:
        return [f"LEAK {item}" for item in self.leaks] + [f"NOT SHOWN {item}" for item in self.unseen] + \
            [f"NOT RECORDED {item}" for item in self.unrecorded]


def text_of(response: Any) -> str:
    body = response.get_data()
    if body[:5] == b"%PDF-":   # a document: its extracted text
        from pypdf import PdfReader
        return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(body)).pages)
    if body[:2] == b"PK":   # an Excel workbook: the text is in its XML parts
        with zipfile.ZipFile(io.BytesIO(body)) as book:
            return "\n".join(book.read(name).decode("utf-8", "replace") for name in book.namelist())
    return body.decode("utf-8", "replace")


def values(world: World) -> list[tuple[Seeded, str, str]]:
    return [(case, path, value) for case in world.cases + world.employers for path, found in case.values.items()
            for value in found]


def run(app: Flask, world: World, clients: dict[str | None, Callable[[Probe], Any]],
        routes: dict[str, Callable[[World], list[Probe]]], findings: Findings) -> None:
    personal = values(world)
    with app.app_context():
        last = db.session.scalar(sa.select(sa.func.max(AccessRecord.id))) or 0
    for route, make in routes.items():
        for probe in make(world):
            for user in USERS:
                response = clients[user](probe)
                findings.requests += 1
                body = text_of(response)
                where = f"{route} {probe.url} as {user or '(no account)'} ({response.status_code})"
                seen_cases = set()
                for case, path, value in personal:
                    if value in body:
                        seen_cases.add((case.kind, case.id))
                        findings.shown += 1
                        if not allowed(user, case, path):
                            findings.leaks.append(f"{case.name} {path}={value}: {where}")
                    elif case.name in probe.shows and response.status_code == 200 and allowed(user, case, path):
                        findings.unseen.append(f"{case.name} {path}={value}: {where}")
                with app.app_context():
                    recorded = {("case", case_id) if case_id is not None else ("employer", employer_id)
                                for case_id, employer_id in db.session.execute(
                                    sa.select(AccessRecord.case_id, AccessRecord.employer_id).where(
                                        AccessRecord.id > last, AccessRecord.username == (user or "")))}
                    last = db.session.scalar(sa.select(sa.func.max(AccessRecord.id))) or 0
                for kind, record_id in sorted(seen_cases - recorded):
                    findings.unrecorded.append(f"{kind} {record_id}: {where}")


def api_clients(api: Api) -> dict[str | None, Callable[[Probe], Any]]:
    def client_for(user: str | None) -> Callable[[Probe], Any]:
        return lambda probe: api.client.get(probe.url, headers=api.headers(user, dict(probe.headers)))
    return {user: client_for(user) for user in USERS}


def page_clients(app: Flask) -> dict[str | None, Callable[[Probe], Any]]:
    def client_for(client: FlaskClient) -> Callable[[Probe], Any]:
        return lambda probe: client.get(probe.url, headers=dict(probe.headers))
    clients = {user: client_for(signed_in(app, user)[0]) for user in USERS if user is not None}
    clients[None] = client_for(app.test_client())
    return clients


def test_every_route_is_in_the_matrix(app: Flask) -> None:
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    documented = {path for path, operations in document["paths"].items() if "get" in operations}
    assert documented - set(API_ROUTES) == set(), "GET routes of the OpenAPI document missing from API_ROUTES"
    assert set(API_ROUTES) - documented == set(), "API_ROUTES lists routes the OpenAPI document does not have"
    pages = {rule.endpoint for rule in app.url_map.iter_rules()
             if "GET" in rule.methods and not rule.rule.startswith("/api/v1")}
    assert pages - set(PAGES) == set(), "GET pages missing from PAGES"
    assert set(PAGES) - pages == set(), "PAGES lists endpoints the app does not have"


def test_the_api_shows_personal_data_only_to_those_the_definitions_allow(fresh: Flask, api: Api) -> None:
    world = seed(api)
    findings = Findings()
    run(fresh, world, api_clients(api), API_ROUTES, findings)
    assert findings.faults() == []
    probes = sum(len(make(world)) for make in API_ROUTES.values())
    assert findings.requests == probes * len(USERS) and findings.shown > 100
    print(f"\nleak matrix (API): {probes} URLs × {len(USERS)} users × {len(values(world))} values, 0 leaks")


def test_the_pages_show_personal_data_only_to_those_the_definitions_allow(fresh: Flask, api: Api) -> None:
    world = seed(api)
    findings = Findings()
    run(fresh, world, page_clients(fresh), PAGES, findings)
    assert findings.faults() == []
    probes = sum(len(make(world)) for make in PAGES.values())
    assert findings.requests == probes * len(USERS) and findings.shown > 20
    print(f"\nleak matrix (pages): {probes} URLs × {len(USERS)} users × {len(values(world))} values, 0 leaks")


@pytest.mark.parametrize("routes", [
    {key: API_ROUTES[key] for key in ("/api/v1/cases/{case_id}/history", "/api/v1/worklist")},
    {key: PAGES[key] for key in ("ui.case_page",)},
], ids=["api", "pages"])
def test_the_matrix_finds_a_leak_when_the_masking_is_bypassed(fresh: Flask, api: Api, routes: Any,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The matrix can fail: with the choke point returning raw data, it reports leaks (and unrecorded views)."""
    from api import present

    world = seed(api)
    monkeypatch.setattr(present, "masked_data",
                        lambda case, principal, data=None: case.data if data is None else data)
    findings = Findings()
    clients = api_clients(api) if "ui.case_page" not in routes else page_clients(fresh)
    run(fresh, world, clients, routes, findings)
    assert any("report-anonymous@cd-e001 contact=13722220001" in leak and "as chengdong_clerk" in leak
               for leak in findings.leaks)
    assert any("claim-complete member.id_number" in leak and "as counter_chengbei" in leak
               for leak in findings.leaks) or "ui.case_page" in routes
    assert findings.unrecorded


def test_the_matrix_finds_an_employer_contact_shown_to_a_role_that_does_not_form_unions(
        fresh: Flask, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from workflow import privacy

    world = seed(api)
    widened = tuple(dataclasses.replace(rule, grants=(*rule.grants, privacy.Grant("mediator")))
                    for rule in privacy.EMPLOYER_CONTACT)
    monkeypatch.setattr(privacy, "EMPLOYER_CONTACT", widened)
    findings = Findings()
    run(fresh, world, api_clients(api), {key: API_ROUTES[key] for key in ("/api/v1/enterprises",)}, findings)
    assert any("employer@chengdong contact_phone=13655550001" in leak and "as chengdong_mediator" in leak
               for leak in findings.leaks)


def test_a_page_answered_with_an_error_still_records_the_personal_data_it_showed(fresh: Flask, api: Api) -> None:
    case = api.open_case("chengdong_mediator", "mediation_case", mediation_data())
    client, csrf = signed_in(fresh, "chengdong_mediator")
    page = client.post(f"/cases/{case['id']}/events/accept", data={"csrf_token": csrf, "mediator": ""})
    assert page.status_code == 422 and "此项为必填项" in page.get_data(as_text=True)
    assert "331081199805201237" in page.get_data(as_text=True)
    with fresh.app_context():
        records = db.session.execute(sa.select(AccessRecord.username, AccessRecord.fields).where(
            AccessRecord.via == f"POST /cases/{case['id']}/events/accept")).all()
    assert [tuple(record) for record in records] == [
        ("chengdong_mediator", "applicants.*.id_number,applicants.*.phone")]
    assert api.get(f"/cases/{case['id']}", "chengdong_mediator").get_json()["version"] == 1   # nothing else kept

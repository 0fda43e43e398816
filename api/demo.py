"""Demo data of API.md: the Wenling org tree and its users. Safe to run twice (upserts by code/username)."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.auth import hash_password
from api.models import Employer, OrgUnit, User

if TYPE_CHECKING:
    from flask import Flask

    from api.lifecycles import Context, Lifecycle

CITY = ("wenling", "温岭市总工会")
STREETS = [
    ("taiping", "太平街道"), ("chengdong", "城东街道"), ("chengxi", "城西街道"), ("chengbei", "城北街道"),
    ("hengfeng", "横峰街道"), ("zeguo", "泽国镇"), ("daxi", "大溪镇"), ("songmen", "松门镇"),
    ("ruoheng", "箬横镇"), ("xinhe", "新河镇"), ("shitang", "石塘镇"), ("binhai", "滨海镇"),
    ("wenqiao", "温峤镇"), ("chengnan", "城南镇"), ("shiqiaotou", "石桥头镇"), ("wugen", "坞根镇"),
]
STREET_NAMES = {f"{name}总工会": code for code, name in STREETS}
ENTERPRISES = [
    ("cd-e001", "温岭市东海鞋业有限公司工会", "chengdong", "91331081158813992N"),
    ("cd-e002", "温岭市华泰泵业有限公司工会", "chengdong", "913310818698797363"),
    ("cd-c001", "城东街道万昌社区联合工会", "chengdong", None),
    ("dx-e001", "温岭市大溪机电有限公司工会", "daxi", "91331081091141705K"),
]
USERS = [
    ("city_admin", "wenling", ["admin", "reviewer"], "陈立新"),
    ("city_clerk", "wenling", ["clerk", "mediator"], "周建国"),
    ("chengdong_clerk", "chengdong", ["clerk"], "张晓燕"),
    ("chengdong_mediator", "chengdong", ["mediator"], "李调解"),
    ("daxi_clerk", "daxi", ["clerk"], "王海峰"),
    ("ent_clerk", "cd-e001", ["clerk", "mediator"], "林秀英"),
    ("counter_chengbei", "chengbei", ["counter"], "城北服务站窗口"),
    ("chengbei_reviewer", "chengbei", ["reviewer"], "赵丽"),
]
DEMO_PASSWORD = "demo"


def upsert_unit(session: Session, code: str, name: str, level: str, parent: OrgUnit | None, now: datetime,
                uscc: str | None = None) -> OrgUnit:
    unit = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == code))
    path = f"{parent.path if parent else ''}{code}/"
    if unit is None:
        unit = OrgUnit(code=code, created_at=now)
        session.add(unit)
    unit.name, unit.level, unit.parent, unit.path, unit.uscc = name, level, parent, path, uscc
    session.flush()
    return unit


EMPLOYER_FACTS = {  # insured staff, founding date, industry
    "91331081158813992N": (320, date(2003, 5, 12), "制鞋业"),
    "913310818698797363": (140, date(2008, 9, 1), "泵与电机制造"),
    "91331081091141705K": (86, date(2014, 3, 18), "机电制造"),
}


def upsert_employer(session: Session, uscc: str, name: str, street: OrgUnit, union: OrgUnit | None,
                    now: datetime) -> Employer:
    employer = session.scalar(sa.select(Employer).where(Employer.uscc == uscc))
    if employer is None:
        employer = Employer(uscc=uscc, created_at=now)
        session.add(employer)
    staff, founded, industry = EMPLOYER_FACTS.get(uscc, (None, None, None))
    employer.name, employer.street_unit, employer.updated_at = name, street, now
    employer.insured_staff, employer.founded_on, employer.industry = staff, founded, industry
    if union is not None:
        employer.union_status, employer.union_unit = "single", union
    session.flush()
    return employer


def upsert_user(session: Session, username: str, unit: OrgUnit, roles: list[str], password: str,
                now: datetime, display_name: str | None = None) -> User:
    user = session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        user = User(username=username, password_hash=hash_password(password), created_at=now)
        session.add(user)
    user.org_unit, user.org_unit_id, user.roles, user.active = unit, unit.id, roles, True
    user.display_name = display_name or user.display_name
    session.flush()
    return user


def seed(session: Session, now: datetime, app: Flask | None = None) -> dict[str, int]:
    """The org tree, the users, the units' contacts, and each lifecycle's reference data (its plug-in's
    ``seed``: members and scheme years, ...), for the app's plug-ins (``current_app`` unless given)."""
    from api.models_documents import seed_contacts

    city = upsert_unit(session, *CITY, "city", None, now)
    streets = {code: upsert_unit(session, code, f"{name}总工会", "street", city, now) for code, name in STREETS}
    for code, name, street, uscc in ENTERPRISES:
        union = upsert_unit(session, code, name, "enterprise", streets[street], now, uscc)
        if uscc:
            upsert_employer(session, uscc, name.removesuffix("工会"), streets[street], union, now)
    units = {unit.code: unit for unit in session.scalars(sa.select(OrgUnit))}
    for username, unit_code, roles, display in USERS:
        upsert_user(session, username, units[unit_code], roles, DEMO_PASSWORD, now, display)
    seed_contacts(session, now)
    for plugin, hooks in _plugins(session, now, app):
        if plugin.seed is not None:
            plugin.seed(hooks)
    return {"org_units": len(units), "users": len(USERS)}


def seed_cases(session: Session, now: datetime, app: Flask | None = None) -> None:
    """Each lifecycle's demo cases (its plug-in's ``demo_cases``), added by ``gonghui seed-demo`` after the
    reference data (tests start without cases)."""
    for plugin, hooks in _plugins(session, now, app):
        if plugin.demo_cases is not None:
            plugin.demo_cases(hooks)


def _plugins(session: Session, now: datetime, app: Flask | None) -> list[tuple[Lifecycle, Context]]:
    from flask import current_app

    from api.lifecycles import context, registry

    engine = (app or current_app).extensions["gonghui.engine"]
    return [(plugin, context(session, engine, plugin.key, None, now)) for plugin in registry(app).values()]

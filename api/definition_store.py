"""Definitions deployed at runtime: stored in ``definition_versions``, installed into every process's engine.

A deployed text is validated exactly as a file of ``definitions/`` is at start-up (the loader's checks, then
the lifecycle module's), stored with its SHA-256, who and when, and becomes the latest version. A stored
version is never changed: the same key and version with another text is a conflict, the same text again
is harmless. The files in ``definitions/`` are the seed: ``gonghui init-db`` stores any the table lacks.

Every process holds the files' versions plus the stored ones (the stored text wins); it compares its
versions with the table at start-up, at every sweep, and at most once a minute on requests, and builds the
machine of a version it does not have yet (never per request).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from api import admin_log
from api.extensions import current_session, db
from api.lifecycles import Lifecycles, registry
from api.models import Case
from api.models_definitions import DefinitionVersion
from workflow.definitions import Catalog, Definition, parse_text
from workflow.diff import Change, diff
from workflow.engine import Engine
from workflow.errors import Conflict, DefinitionError, InvalidData, UnknownDefinition

log = logging.getLogger(__name__)

REFRESH_EVERY = timedelta(minutes=1)
MAX_VERSION = 100_000
_HASHES = "gonghui.definition_hashes"      # (key, version) -> sha256 of the text this process runs
_FILES = "gonghui.definition_files"        # (key, version) -> (text, sha256, file name) of definitions/
_REFRESHED = "gonghui.definitions_refreshed_at"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def validate(text: str, source: str = "definition", plugins: Lifecycles | None = None) -> Definition:
    """The loader's checks and the lifecycle plug-in's (the app's, unless ``plugins`` are given), every fault
    with its line; 422 when any fails."""
    plugins = plugins if plugins is not None else registry()
    try:
        definition = parse_text(text, source, plugins.effect_names)
        plugins.check_against(Catalog([definition]))
    except DefinitionError as error:
        raise InvalidData({"definition": list(error.reasons)},
                          detail=f"流程定义有误（{len(error.reasons)} 处）：" + "；".join(error.reasons)) from error
    return definition


@dataclass
class Deployment:
    definition: Definition
    previous: Definition | None
    changes: list[Change]
    created: bool                  # False: nothing stored (a dry run, or the same text deployed again)
    dry_run: bool = False
    row: DefinitionVersion | None = field(default=None, repr=False)
    sha256: str = ""


def deploy(session: Session, engine: Engine, hashes: dict[tuple[str, int], str], text: str, *, actor: str,
           now: datetime, origin: str | None = None, dry_run: bool = False) -> Deployment:
    """Validate, compare with the latest version, and (unless ``dry_run``) store and install the version."""
    if not text.strip():
        raise InvalidData({"definition": ["请提交 YAML 格式的流程定义"]}, detail="流程定义为空")
    definition = validate(text, origin or "definition")
    key, version = definition.key, definition.version
    too_long = {name: [f"最多 {limit} 个字符"] for name, value, limit in (("title", definition.title, 200),)
                if len(value) > limit}
    if version > MAX_VERSION:
        too_long["version"] = [f"版本号最大为 {MAX_VERSION}"]
    if too_long:
        raise InvalidData(too_long, detail="流程定义有误：" + "、".join(too_long))
    known = engine.catalog.versions(key)
    previous = known[-1] if known else None
    digest = sha256(text)
    existing = hashes.get((key, version))
    stored = session.get(DefinitionVersion, (key, version))
    if stored is not None:
        existing = stored.sha256
    if existing is not None:
        if existing != digest:
            raise Conflict(f"{key} 第 {version} 版已经部署，内容与本次提交不同；已部署的版本不能修改，请使用新的版本号",
                           key=key, version=version)
        same = engine.catalog.get(key, version)
        return Deployment(same, previous, [], created=False, dry_run=dry_run, row=stored, sha256=digest)
    if previous is not None and version < previous.version:
        raise InvalidData({"version": [f"版本号须大于当前最新的第 {previous.version} 版"]},
                          detail=f"{key} 已有第 {previous.version} 版，不能再部署更早的第 {version} 版")
    changes = diff(previous, definition) if previous is not None else []
    if dry_run:
        return Deployment(definition, previous, changes, created=False, dry_run=True, sha256=digest)
    row = DefinitionVersion(key=key, version=version, title=definition.title, source=text, sha256=digest,
                            origin=origin, deployed_by=actor, deployed_at=now)
    session.add(row)
    session.flush()
    engine.install(definition)
    hashes[(key, version)] = digest
    admin_log.record(session, actor=actor, action="definition.deploy", target=f"{key} v{version}", at=now,
                     before={"version": previous.version} if previous else None,
                     after={"version": version, "sha256": digest, "origin": origin,
                            "changes": [change.text for change in changes]})
    return Deployment(definition, previous, changes, created=True, row=row, sha256=digest)


def deploy_in_app(app: Flask, session: Session, text: str, **kwargs: Any) -> Deployment:
    return deploy(session, app.extensions["gonghui.engine"], app.extensions[_HASHES], text, **kwargs)


def refresh(app: Flask, session: Session) -> list[tuple[str, int]]:
    """Make the process's engine hold the files' versions and the stored ones; returns what was installed."""
    engine: Engine = app.extensions["gonghui.engine"]
    hashes: dict[tuple[str, int], str] = app.extensions[_HASHES]
    files: dict[tuple[str, int], tuple[str, str, str]] = app.extensions[_FILES]
    stored = {(key, version): digest for key, version, digest in session.execute(
        sa.select(DefinitionVersion.key, DefinitionVersion.version, DefinitionVersion.sha256))}
    wanted = {found: digest for found, (_, digest, _) in files.items()} | stored
    for found in [found for found in hashes if found not in wanted]:
        engine.remove(*found)
        hashes.pop(found)
    installed = []
    for found, digest in sorted(wanted.items()):
        if hashes.get(found) == digest:
            continue
        if found in stored:
            text = session.scalar(sa.select(DefinitionVersion.source).where(
                DefinitionVersion.key == found[0], DefinitionVersion.version == found[1])) or ""
        else:
            text = files[found][0]
        try:
            definition = validate(text, f"{found[0]} v{found[1]}", registry(app))
        except InvalidData as error:   # e.g. a guard the code no longer has: keep running the rest
            log.error("definition %s v%s not installed: %s", *found, error.detail)
            continue
        engine.install(definition)
        hashes[found] = digest
        installed.append(found)
    return installed


def refresh_if_stale(app: Flask, session: Session, now: datetime) -> None:
    last = app.extensions.get(_REFRESHED)
    if last is None or now - last >= REFRESH_EVERY or now < last:
        refresh(app, session)
        app.extensions[_REFRESHED] = now


def seed_from_files(app: Flask, session: Session, now: datetime) -> tuple[list[str], list[str]]:
    """Store every version of ``definitions/`` the table lacks (init-db); also name the files whose text
    differs from the version already deployed under their number (the deployed one is used)."""
    added, differing = [], []
    for (key, version), (text, digest, name) in sorted(app.extensions[_FILES].items()):
        row = session.get(DefinitionVersion, (key, version))
        if row is None:
            definition = app.extensions["gonghui.engine"].catalog.get(key, version)
            session.add(DefinitionVersion(key=key, version=version, title=definition.title, source=text,
                                          sha256=digest, origin=name, deployed_by="init-db", deployed_at=now))
            added.append(f"{key} v{version}")
        elif row.sha256 != digest:
            differing.append(f"{name} (deployed {key} v{version} differs; the deployed text is used)")
    session.flush()
    return added, differing


@dataclass(frozen=True)
class VersionInfo:
    definition: Definition
    open_cases: int
    row: DefinitionVersion | None
    latest: bool


def versions(session: Session, engine: Engine, key: str) -> list[VersionInfo]:
    """Every version of ``key`` this process knows, with its count of open cases and who deployed it."""
    known = engine.catalog.versions(key)
    if not known:
        raise UnknownDefinition(f"没有名为 {key!r} 的流程定义", key=key)
    counts = dict(session.execute(sa.select(Case.definition_version, sa.func.count())
                                  .where(Case.definition_key == key, sa.not_(Case.closed))
                                  .group_by(Case.definition_version)).all())
    rows = {row.version: row for row in session.scalars(sa.select(DefinitionVersion)
                                                        .where(DefinitionVersion.key == key))}
    return [VersionInfo(definition, int(counts.get(definition.version, 0)), rows.get(definition.version),
                        definition is known[-1]) for definition in known]


def source_text(app: Flask, session: Session, key: str, version: int) -> str | None:
    row = session.get(DefinitionVersion, (key, version))
    if row is not None:
        return row.source
    found = app.extensions[_FILES].get((key, version))
    return found[0] if found else None


def init_app(app: Flask) -> None:
    """Remember the files' texts, then install the stored versions (quietly skipped before the schema exists)."""
    files: dict[tuple[str, int], tuple[str, str, str]] = {}
    for definition in app.extensions["gonghui.engine"].catalog.all():
        text = Path(definition.source).read_text(encoding="utf-8")
        files[(definition.key, definition.version)] = (text, sha256(text), Path(definition.source).name)
    app.extensions[_FILES] = files
    app.extensions[_HASHES] = {found: digest for found, (_, digest, _) in files.items()}
    with app.app_context():
        try:
            refresh(app, current_session())
        except sa.exc.SQLAlchemyError:
            pass
        finally:
            db.session.rollback()
            db.session.remove()


def in_step() -> None:
    """Before a request: a version deployed through another process reaches this one within a minute."""
    from api.clock import now
    from api.context import this_app

    try:
        refresh_if_stale(this_app(), current_session(), now())
    except sa.exc.SQLAlchemyError:  # a database that is away is answered by the request itself
        db.session.rollback()

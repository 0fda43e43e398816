"""The session key: never a value written in the code. A cookie signed with the old default is worth nothing;
`init-db` writes a random key (mode 600) that the app loads; `serve` refuses to start with a known key."""

from __future__ import annotations

import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from api import create_app
from api.extensions import db
from api.models import User
from api.secret_key import KNOWN_KEYS, SecretKeyError

OLD_DEFAULT = "dev-only-change-me"


def forged_cookie(key: str, payload: dict[str, Any]) -> str:
    """A session cookie as Flask would sign it with ``key``."""
    signer = Flask("forger")
    signer.secret_key = key
    serializer = SecureCookieSessionInterface().get_signing_serializer(signer)
    assert serializer is not None
    return str(serializer.dumps(payload))


@pytest.fixture
def unkeyed_app(fresh: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The app as `gonghui run` builds it: no key configured, an empty instance folder."""
    monkeypatch.delenv("GONGHUI_SECRET_KEY", raising=False)
    app = create_app({"SQLALCHEMY_DATABASE_URI": fresh.config["SQLALCHEMY_DATABASE_URI"],
                      "CLOCK": fresh.config["CLOCK"], "INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True})
    yield app
    with app.app_context():
        db.engine.dispose()


def test_a_session_forged_with_the_old_default_key_gets_the_sign_in_page(unkeyed_app: Flask) -> None:
    with unkeyed_app.app_context():
        admin_id = db.session.scalar(sa.select(User.id).where(User.username == "city_admin"))
    client = unkeyed_app.test_client()
    for user_id in {1, admin_id}:
        client.set_cookie("session", forged_cookie(OLD_DEFAULT, {"user_id": user_id, "csrf": "x"}))
        response = client.get("/admin", follow_redirects=True)
        body = response.get_data(as_text=True)
        assert response.request.path == "/login"
        assert "登录" in body and "温岭市总工会 · 工会工作流" in body
        assert "服务令牌" not in body and "新建或修改用户" not in body and "组织架构" not in body
        created = client.post("/admin/users", data={"csrf_token": "x", "username": "intruder", "org": "wenling",
                                                    "roles": "admin", "password": "intruder-password"})
        assert created.status_code in (302, 400) and "/admin" not in created.headers.get("Location", "")
    with unkeyed_app.app_context():
        assert db.session.scalar(sa.select(User).where(User.username == "intruder")) is None


def test_a_cookie_signed_with_the_apps_own_key_still_opens_the_admin_page(unkeyed_app: Flask) -> None:
    """The control: the forgery fails for its key, not because cookies do not work."""
    with unkeyed_app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.username == "city_admin"))
        admin_id, generation = admin.id, admin.session_generation or 0
    client = unkeyed_app.test_client()
    client.set_cookie("session", forged_cookie(unkeyed_app.secret_key,
                                               {"user_id": admin_id, "gen": generation, "csrf": "x"}))
    body = client.get("/admin").get_data(as_text=True)
    assert "服务令牌" in body and "组织架构" in body


def test_the_first_start_writes_a_random_key_of_mode_600_and_the_next_start_reads_it(unkeyed_app: Flask) -> None:
    path = Path(unkeyed_app.instance_path) / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == unkeyed_app.secret_key and len(unkeyed_app.secret_key) == 64
    assert unkeyed_app.secret_key not in KNOWN_KEYS
    again = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "INSTANCE_PATH": unkeyed_app.instance_path})
    assert again.secret_key == unkeyed_app.secret_key


def test_init_db_writes_the_key_file_and_the_environment_key_comes_first(
        fresh: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.cli import init_db

    monkeypatch.delenv("GONGHUI_SECRET_KEY", raising=False)
    instance = tmp_path / "instance"
    app = create_app({"SQLALCHEMY_DATABASE_URI": fresh.config["SQLALCHEMY_DATABASE_URI"],
                      "INSTANCE_PATH": str(instance), "SECRET_KEY_GENERATE": False,
                      "SECRET_KEY": "k" * 40})   # the schema's app; init-db writes the file regardless
    try:
        result = app.test_cli_runner().invoke(init_db)
        assert result.exit_code == 0, result.output
        key = (instance / "secret_key").read_text().strip()
        assert stat.S_IMODE((instance / "secret_key").stat().st_mode) == 0o600 and len(key) == 64
        assert "session key" in result.output and key not in result.output
        assert app.test_cli_runner().invoke(init_db).exit_code == 0
        assert (instance / "secret_key").read_text().strip() == key   # safe to run twice: the key stays
        served = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "INSTANCE_PATH": str(instance),
                             "SECRET_KEY_GENERATE": False})
        assert served.secret_key == key
        monkeypatch.setenv("GONGHUI_SECRET_KEY", "e" * 48)
        keyed = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "INSTANCE_PATH": str(instance)})
        assert keyed.secret_key == "e" * 48
    finally:
        with app.app_context():
            db.engine.dispose()


@pytest.mark.parametrize("key", [OLD_DEFAULT, "test", "short-key"])
def test_a_known_or_short_key_is_refused_at_start(key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GONGHUI_SECRET_KEY", key)
    with pytest.raises(SecretKeyError):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "INSTANCE_PATH": str(tmp_path)})
    monkeypatch.delenv("GONGHUI_SECRET_KEY")
    (tmp_path / "secret_key").write_text(key)
    with pytest.raises(SecretKeyError):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "INSTANCE_PATH": str(tmp_path)})


@pytest.mark.parametrize("key", [OLD_DEFAULT, None])
def test_serve_refuses_to_start_with_a_known_key_or_none(
        key: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.cli import cli

    started: list[Any] = []
    monkeypatch.setattr(subprocess, "run", lambda *args, **kwargs: started.append(args))
    monkeypatch.setattr(subprocess, "Popen", lambda *args, **kwargs: started.append(args))
    monkeypatch.delenv("GONGHUI_SECRET_KEY", raising=False)
    environment = {"GONGHUI_INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "sqlite://",
                   "GONGHUI_SECRET_KEY": key}
    result = CliRunner().invoke(cli, ["serve", "--no-scheduler"], env=environment)
    assert result.exit_code == 1 and "refusing to start" in result.output
    assert started == [] and not (tmp_path / "secret_key").exists()
    environment["GONGHUI_SECRET_KEY"] = "r" * 64
    assert CliRunner().invoke(cli, ["serve", "--no-scheduler"], env=environment).exit_code == 0
    assert len(started) == 1 and "gunicorn" in started[0][0]

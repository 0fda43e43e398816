"""WSGI entry point for gunicorn: ``gunicorn api.wsgi:app``. Starts no scheduler (see ``gonghui scheduler``)."""

from api import create_app

app = create_app({"SECRET_KEY_GENERATE": False})   # no key of its own: refuse to start (`gonghui init-db`)

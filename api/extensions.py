"""Flask extensions, created unbound and attached to an app by ``create_app``."""

from __future__ import annotations

from flask_migrate import Migrate
from flask_smorest import Api, Blueprint
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from marshmallow import RAISE
from sqlalchemy import MetaData
from sqlalchemy.orm import Session

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

class ProblemApi(Api):  # type: ignore[misc]
    """flask-smorest's Api, documenting every error response as an RFC 9457 problem document."""

    ERROR_SCHEMA = "ProblemSchema"
    PROBLEM = "application/problem+json"

    def _register_responses(self) -> None:
        import http

        from flask_smorest.utils import prepare_response

        from api.schemas import ProblemSchema

        self.spec.components.schema("ProblemSchema", schema=ProblemSchema, lazy=True)
        for status in http.HTTPStatus:
            response: dict[str, object] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = ProblemSchema
            prepare_response(response, self.spec, self.PROBLEM if status >= 400 else self.DEFAULT_RESPONSE_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        default: dict[str, object] = {"description": "错误（RFC 9457 problem document）", "schema": ProblemSchema}
        prepare_response(default, self.spec, self.PROBLEM)
        self.spec.components.response("DEFAULT_ERROR", default, lazy=True)


# Unknown query parameters are refused (422) like unknown body fields, rather than silently ignored.
Blueprint.ARGUMENTS_PARSER.unknown = RAISE

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING))
migrate = Migrate()
smorest = ProblemApi()
# Every POST/PUT/PATCH/DELETE must carry the session's CSRF token (pages: ``csrf_token()`` in every form),
# except to the API's blueprints, which take bearer tokens and no cookies (exempted by ``create_app``).
csrf = CSRFProtect()


def current_session() -> Session:
    """The session of the current app context (a request's, a command's, a job's). ``db.session`` is a scoped
    proxy to it: the functions that take a ``Session`` are given the session itself."""
    return db.session()

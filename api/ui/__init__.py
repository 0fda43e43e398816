"""The clerk's web pages, in Chinese, served at ``/`` by the same app (server-rendered, no build step).

One blueprint (``ui``; its endpoints are ``ui.<name>``) whose pages live in these modules:

- ``session``     signing in and out, who is signed in, the CSRF check's expired forms (kept and replayed), one's
                  own password, what every page shows (navigation, filters of the templates)
- ``cases``       the worklist and search, a case page with a form per event, new cases, notifications,
                  documents on screen and as PDF
- ``counter``     the window (窗口受理): the lifecycles a counter opens, with the receipt and one-time notice
- ``dashboard``   统计 and its Excel/CSV exports
- ``roster``      参保名单导入 and 用人单位
- ``admin``, ``calendar``, ``definitions``   管理: users and tokens, the holiday schedule, lifecycle versions
- ``errors``, ``labels``, ``words``          faults beside fields, Chinese labels, identifiers said in words

The pages call the same use cases as the API. They name no lifecycle: what differs between lifecycles comes
from the definitions (titles, states, ``open_roles``: a definition a counter opens is opened at the window) or
from the lifecycle plug-in (labels, report figures, the dashboard's trend, a 查询码 on opening).
May import the use cases, the lifecycles' registry and the models; the API's views never import this package.
"""

from __future__ import annotations

from flask import Blueprint, Flask

blp = Blueprint("ui", __name__, template_folder="../templates", static_folder="../static/ui",
                static_url_path="/ui-static")



def register(app: Flask) -> None:
    """The pages' routes onto the blueprint (the first time), then the blueprint onto ``app``."""
    from api.ui import admin, calendar, cases, counter, dashboard, definitions, roster, session  # noqa: F401

    app.register_blueprint(blp)

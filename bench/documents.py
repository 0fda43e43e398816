"""PDF documents rendered per second on one process: a one-page receipt (受理回执) of a mediation case, made by
``documents.render_pdf`` (the HTML page, then WeasyPrint), against the baseline of rendering the same receipt's
HTML only (``documents.render_html``), measured in the same run. SQLite in a temporary folder: the case is read
once, the figure is the rendering."""

from __future__ import annotations

import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.stats import percentile
from bench.sweep import DATA, OPENED_AT


def _app(folder: Path) -> Any:
    from flask_migrate import upgrade

    from api import create_app, demo
    from api.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.sqlite3'}", "LOG_LEVEL": "WARNING",
                      "SECRET_KEY": secrets.token_hex(32), "INSTANCE_PATH": str(folder),
                      "AUDIT_KEY_FILE": str(folder / "audit.key"),
                      "AUDIT_CHECKPOINTS": str(folder / "checkpoints.jsonl"),
                      "PUBLIC_BASE_URL": "https://gonghui.example.cn"})
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory, revision="heads")
        demo.seed(db.session, OPENED_AT)
        db.session.commit()
    return app


def _timed(function: Any, count: int) -> tuple[float, list[float]]:
    """Renders per second over ``count`` calls, and each call's milliseconds."""
    samples: list[float] = []
    started = time.perf_counter()
    for _ in range(count):
        began = time.perf_counter()
        function()
        samples.append((time.perf_counter() - began) * 1000)
    return count / (time.perf_counter() - started), samples


def run(count: int, *, repeats: int = 3) -> dict[str, Any]:
    """``count`` receipts rendered as PDF and as HTML only, ``repeats`` times, alternating (median of the runs)."""
    from weasyprint import HTML

    from api import documents
    from api.auth import Principal
    from api.cases import OpenRequest, open_case
    from api.extensions import db
    from api.models import User

    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        app = _app(folder)
        with app.app_context(), app.test_request_context("/"):
            principal = Principal.of(db.session.scalar(sa.select(User).where(User.username == "ent_clerk")))
            case = open_case(db.session, app.extensions["gonghui.engine"], principal,
                                      OpenRequest("mediation_case", "cd-e001", DATA), OPENED_AT)
            db.session.commit()
            pdf = documents.render_pdf(case, "receipt", principal, OPENED_AT)   # warm: fonts, templates
            html = documents.render_html(case, "receipt", principal, OPENED_AT, inline_style=True)
            pages = len(HTML(string=html).render().pages)   # the figure is of a one-page document
            pdf_rates, html_rates, pdf_ms, html_ms = [], [], [], []
            for _ in range(repeats):
                rate, samples = _timed(lambda: documents.render_pdf(case, "receipt", principal, OPENED_AT), count)
                pdf_rates.append(rate)
                pdf_ms += samples
                rate, samples = _timed(lambda: documents.render_html(case, "receipt", principal, OPENED_AT,
                                                                     inline_style=True), count)
                html_rates.append(rate)
                html_ms += samples
        with app.app_context():
            db.engine.dispose()
    return {"documents": count, "repeats": repeats, "pdf_bytes": len(pdf), "pages": pages,
            "pdf": {"per_s": round(statistics.median(pdf_rates), 1), "runs": [round(r, 1) for r in pdf_rates],
                    "p50_ms": round(statistics.median(pdf_ms), 1), "p95_ms": round(percentile(pdf_ms, 0.95), 1)},
            "html_only": {"per_s": round(statistics.median(html_rates), 1),
                          "runs": [round(r, 1) for r in html_rates],
                          "p50_ms": round(statistics.median(html_ms), 2),
                          "p95_ms": round(percentile(html_ms, 0.95), 2)}}

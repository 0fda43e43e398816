"""PDF documents rendered per second on one process: a one-page receipt (受理回执) of a mediation case, made by
``documents.render_pdf`` (the HTML page, then WeasyPrint with the thread's ``Typesetter``), against two baselines
measured in the same run: the same receipt's HTML only (``documents.render_html``), and the same PDF made the way
WeasyPrint does it when given nothing but the page (``HTML(string=...).write_pdf()``: the style inline in the page,
parsed again, and a new font configuration for each document). SQLite in a temporary folder: the case is read once,
the figure is the rendering. CPU milliseconds per document are reported beside the wall-clock rates: on a shared
machine they move less."""

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


def _timed(function: Any, count: int) -> tuple[float, list[float], float]:
    """Renders per second over ``count`` calls, each call's milliseconds, and the CPU milliseconds per call."""
    samples: list[float] = []
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        began = time.perf_counter()
        function()
        samples.append((time.perf_counter() - began) * 1000)
    return count / (time.perf_counter() - started), samples, (time.process_time() - cpu) * 1000 / count


def _figures(rates: list[float], samples: list[float], cpu: list[float], digits: int = 1) -> dict[str, Any]:
    return {"per_s": round(statistics.median(rates), 1), "runs": [round(r, 1) for r in rates],
            "p50_ms": round(statistics.median(samples), digits), "p95_ms": round(percentile(samples, 0.95), digits),
            "cpu_ms": round(statistics.median(cpu), digits)}


def run(count: int, *, repeats: int = 3) -> dict[str, Any]:
    """``count`` receipts rendered as PDF, as PDF the stock way and as HTML only, ``repeats`` times, alternating
    (median of the runs)."""
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

            def pdf() -> bytes:
                return documents.render_pdf(case, "receipt", principal, OPENED_AT)

            def html() -> str:
                return documents.render_html(case, "receipt", principal, OPENED_AT, inline_style=True)

            def stock() -> bytes:
                made: bytes = HTML(string=html()).write_pdf()
                return made

            made = pdf()   # warm: fonts (the cut-down one made in the instance folder), templates, the stylesheet
            stock()
            pages = len(HTML(string=html()).render().pages)   # the figure is of a one-page document
            measures: dict[str, tuple[list[float], list[float], list[float]]] = {
                "pdf": ([], [], []), "pdf_stock": ([], [], []), "html_only": ([], [], [])}
            for _ in range(repeats):
                for key, function in (("pdf", pdf), ("pdf_stock", stock), ("html_only", html)):
                    rate, samples, cpu = _timed(function, count)
                    measures[key][0].append(rate)
                    measures[key][1].extend(samples)
                    measures[key][2].append(cpu)
        with app.app_context():
            db.engine.dispose()
    return {"documents": count, "repeats": repeats, "pdf_bytes": len(made), "pages": pages,
            "pdf": _figures(*measures["pdf"]), "pdf_stock": _figures(*measures["pdf_stock"]),
            "html_only": _figures(*measures["html_only"], digits=2)}

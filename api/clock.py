"""The injected clock: every use case asks here for "now", so tests can freeze or move time."""

from __future__ import annotations

from datetime import datetime

from flask import current_app


def now() -> datetime:
    moment: datetime = current_app.config["CLOCK"]()
    return moment

"""The injected clock: every use case asks here for "now", so tests can freeze or move time."""

from __future__ import annotations

from datetime import datetime

from api.context import this_app


def now() -> datetime:
    moment: datetime = this_app().config["CLOCK"]()
    return moment

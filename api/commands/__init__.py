"""CLI command modules: every module here that defines ``commands`` (a list of click commands or groups)
is added to the ``gonghui`` group by ``api.cli``."""

from __future__ import annotations

import importlib
import pkgutil

import click


def discover() -> list[click.Command]:
    found: list[click.Command] = []
    for module in pkgutil.iter_modules(__path__):
        loaded = importlib.import_module(f"{__name__}.{module.name}")
        found.extend(getattr(loaded, "commands", []))
    return found

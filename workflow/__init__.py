"""The engine and the domain of gonghui-workflow.

This package knows nothing of Flask, marshmallow, SQLAlchemy or APScheduler: the ``api`` package
imports it, never the other way round (enforced by ``tests/unit/test_layering.py``).
"""

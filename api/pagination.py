"""One way to page a list, for every list of the API (``GET /cases``, ``/worklist``, ``/enterprises``):

- the query: ``page`` (from 1) and ``per_page`` (default 50, at most 500) — ``PageQuerySchema``, which a list's
  own query schema extends with its filters;
- the answer: ``{"items": [...], "total", "total_exact", "page", "per_page"}`` — ``page_schema(ItemSchema)`` for
  the document, ``envelope()`` for the body;
- the matches are counted up to ``GONGHUI_LIST_COUNT_LIMIT`` (1,000) only, so that a page costs the same however
  large the table: beyond it ``total`` is a lower bound and ``total_exact`` is false (narrow the filters);
- while there is a next page, a ``Link: <…?page=2&per_page=50…>; rel="next"`` header says where (with the same
  filters) — ``next_link()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from flask import current_app, request, url_for
from marshmallow import Schema, fields, validate
from sqlalchemy.orm import Session

T = TypeVar("T")

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 500
MAX_PAGE = 100_000


class PageQuerySchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE),
                          metadata={"description": "第几页，从 1 起"})
    per_page = fields.Integer(load_default=DEFAULT_PER_PAGE, validate=validate.Range(min=1, max=MAX_PER_PAGE),
                              metadata={"description": f"每页条数（默认 {DEFAULT_PER_PAGE}，至多 {MAX_PER_PAGE}）"})


class PageSchema(Schema):
    """What every paged list answers around its items."""

    total = fields.Integer(metadata={"description": "匹配的条数；超过计数上限（默认 1000）时只计到上限"
                                                    "（见 total_exact）"})
    total_exact = fields.Boolean(metadata={"description": "false：匹配的多于 total，请用条件缩小范围"})
    page = fields.Integer()
    per_page = fields.Integer()


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    """The envelope of a list of ``item``s, named ``name`` in the OpenAPI document (``CasePageSchema``)."""
    return type(name, (PageSchema,), {"items": fields.List(fields.Nested(item)),
                                      "__doc__": f"One page of {item.__name__.removesuffix('Schema')} items."})


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    exact: bool   # False when more match than were counted: ``total`` is then a lower bound
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def has_next(self) -> bool:
        return self.page * self.per_page < self.total or (not self.exact and len(self.items) == self.per_page)


def count_limit() -> int:
    return int(current_app.config.get("LIST_COUNT_LIMIT", 1000))


def count_capped(session: Session, matches: sa.Select[Any], limit: int, *, ordered: bool = False) -> tuple[int, bool]:
    """How many rows ``matches`` selects, counted up to ``limit`` (the count, and whether it is exact).
    ``ordered``: count them in the order of ``matches`` (when an index in that order is the cheap way to find
    the first ``limit`` of them, as for the worklist)."""
    counted = matches.with_only_columns(sa.literal(1), maintain_column_froms=True)
    capped = (counted if ordered else counted.order_by(None)).limit(limit + 1).subquery()
    found = session.scalar(sa.select(sa.func.count()).select_from(capped)) or 0
    return min(found, limit), found <= limit


def paged(items: list[T], total: int, exact: bool, page: int, per_page: int) -> Page[T]:
    """A page of ``items`` (the page's rows) of ``total`` matches; an inexact total is raised to at least the rows
    seen up to this page, so that a clerk paging past the limit is never told there are fewer."""
    if not exact:
        total = max(total, (page - 1) * per_page + len(items))
    return Page(items, total, exact, page, per_page)


def envelope(page: Page[Any], items: list[Any]) -> dict[str, Any]:
    """The body of a page: ``items`` (the page's rows as shown), ``total``, ``total_exact``, ``page``, ``per_page``."""
    return {"items": items, "total": page.total, "total_exact": page.exact, "page": page.page,
            "per_page": page.per_page}


def next_link(page: Page[Any]) -> dict[str, str]:
    """The ``Link`` header to the next page of the current request's list (its filters kept), or no header."""
    if not page.has_next:
        return {}
    args: dict[str, Any] = {"page": page.page + 1, "per_page": page.per_page}
    for name, values in request.args.lists():
        if name not in args:
            args[name] = values
    return {"Link": f'<{url_for(request.endpoint or "", **(request.view_args or {}), **args)}>; rel="next"'}

"""The use cases on cases, one module each: opening (``open_case``, ``open_many``), firing (``fire_event``,
``apply_outcome``, ``mark_overdue``), queries (``get_case``, ``list_cases``, ``worklist``, ``worklist_page``); the
data checks in ``data``. Each changes the session and writes through the ``CaseWriter`` it is given (``api.writers``);
the caller (a request, the sweep, the CLI) owns the transaction and commits once, so a request is all or nothing."""

from api.cases.data import SYSTEM, denormalise, dig, validate_data, view_of
from api.cases.firing import FireRequest, apply_outcome, fire_event, mark_overdue
from api.cases.opening import Opened, OpenRequest, may_open, open_case, open_many
from api.cases.queries import CasePage, CaseQuery, actionable_states, get_case, list_cases, worklist, worklist_page

__all__ = ["SYSTEM", "CasePage", "CaseQuery", "FireRequest", "OpenRequest", "Opened", "actionable_states",
           "apply_outcome", "denormalise", "dig", "fire_event", "get_case", "list_cases", "mark_overdue",
           "may_open", "open_case", "open_many", "validate_data", "view_of", "worklist", "worklist_page"]

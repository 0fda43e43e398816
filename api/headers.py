"""The security headers of every answer, API and pages alike, set by one hook (``security_headers``).

Every answer: no MIME sniffing, no framing, no referrer beyond the site. Web pages (everything outside
``/api/``: the clerk's pages, the worker's pages, errors, operators' answers) get the strict Content-Security-Policy
``CSP``: no inline script or style, nothing from elsewhere. Under ``/api/`` the policy only forbids framing — the
API's documentation page (Swagger UI) runs an inline script — unless the answer set its own (the claim notice's
printable page sets ``CSP``). A view may set a stricter header of its own (the public pages send no referrer).
May import nothing of the app.
"""

from __future__ import annotations

from flask import Response, request

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
API_CSP = "frame-ancestors 'none'"


def security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Content-Security-Policy", API_CSP if request.path.startswith("/api/") else CSP)
    return response

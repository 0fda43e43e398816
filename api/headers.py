"""The security headers of every answer, API and pages alike, set by one hook (``security_headers``).

Every answer: no MIME sniffing, no framing, no referrer beyond the site. Web pages (everything outside
``/api/``: the clerk's pages, the worker's pages, errors, operators' answers) get the strict Content-Security-Policy
``CSP``: no inline script or style, nothing from elsewhere. Under ``/api/`` the policy only forbids framing — the
API's documentation page (Swagger UI) runs an inline script — unless the answer set its own (the claim notice's
printable page sets ``CSP``). The worker's pages (``/public/``) send no referrer and may not be stored: a 查询码
stays off a shared phone's back button. A view may set a header of its own, which is kept.
May import nothing of the app.
"""

from __future__ import annotations

from flask import Response, request

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
API_CSP = "frame-ancestors 'none'"


PUBLIC_PREFIX = "/public/"


def security_headers(response: Response) -> Response:
    public = request.path.startswith(PUBLIC_PREFIX)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer" if public else "same-origin")
    if public:
        response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("Content-Security-Policy", API_CSP if request.path.startswith("/api/") else CSP)
    return response

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
    path = request.path   # the one read of the request: through the proxy, as this module imports nothing of the app
    public = path.startswith(PUBLIC_PREFIX)
    headers = response.headers
    # each header only where the view set none: looked up in one pass (werkzeug's ``setdefault`` raises and catches
    # an exception for every header missing, i.e. nearly all of them, on every answer)
    present = {name.lower() for name in headers.keys()}
    defaults = [("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
                ("Referrer-Policy", "no-referrer" if public else "same-origin")]
    if public:
        defaults.append(("Cache-Control", "no-store"))
    defaults.append(("Content-Security-Policy", API_CSP if path.startswith("/api/") else CSP))
    for name, value in defaults:
        if name.lower() not in present:
            headers.add(name, value)
    return response

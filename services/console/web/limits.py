"""How large a request body the console reads: checked before any form is parsed."""

import re

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from services.common.http import BodySizeLimit
from services.console.web.deps import TooLarge
from services.console.web.pages import too_large_page

# The one form that carries a file: the CSV import.
UPLOAD_PATHS = re.compile(r"^/subsidiaries/[^/]+/participants/import$")


class BodyLimit(BodySizeLimit):
    """The services' limit, with the CSV import's larger one and every other form's smaller
    one, and a page of its own (413). One announced is refused at once: nothing is read, no
    service is asked. One streamed raises TooLarge from the first read that passes the limit,
    before the form is parsed whole; the console's exception handler shows the same page. It
    runs inside the console's per-request middleware, so the page has the user's language."""

    def __init__(self, app: ASGIApp, form_bytes: int, upload_bytes: int) -> None:
        super().__init__(app, form_bytes)
        self.upload_bytes = upload_bytes

    def limit(self, scope: Scope) -> int:
        return self.upload_bytes if UPLOAD_PATHS.match(scope["path"]) else self.max_bytes

    def too_large(self, scope: Scope, limit: int) -> TooLarge:
        return TooLarge(limit, upload=bool(UPLOAD_PATHS.match(scope["path"])))

    async def refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        await too_large_page(Request(scope), self.too_large(scope, limit))(scope, receive, send)

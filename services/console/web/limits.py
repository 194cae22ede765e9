"""How large a request body the console reads: checked before any form is parsed."""

import re

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.console.web.deps import TooLarge
from services.console.web.pages import too_large_page

# The one form that carries a file: the CSV import.
UPLOAD_PATHS = re.compile(r"^/subsidiaries/[^/]+/participants/import$")


class BodyLimit:
    """Refuses a body over its limit (the CSV import's larger one, every other form's
    smaller one), whether announced by Content-Length or streamed, with a page of its own
    (413). One announced is refused at once: nothing is read, no service is asked. One
    streamed raises TooLarge from the first read that passes the limit, before the form is
    parsed whole; the console's exception handler shows the same page. It runs inside the
    console's per-request middleware, so the page has the user's language."""

    def __init__(self, app: ASGIApp, form_bytes: int, upload_bytes: int) -> None:
        self.app = app
        self.form_bytes = form_bytes
        self.upload_bytes = upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = bool(UPLOAD_PATHS.match(scope["path"]))
        limit = self.upload_bytes if upload else self.form_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await too_large_page(Request(scope), TooLarge(limit, upload))(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise TooLarge(limit, upload)
            return message

        await self.app(scope, limited_receive, send)

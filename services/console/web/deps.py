"""What every page depends on: the signed-in user, the services as that user, the form
(checked against cross-site forgery), the subsidiary a page is about; the console's cookies."""

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request, status
from starlette.datastructures import FormData
from starlette.responses import Response

from services.common.auth import Role
from services.console.gateway import Api, api_path
from services.console.i18n import N_

# The cookies' base names; with secure cookies (the default) each is sent as __Host-<name>.
TOKEN_COOKIE = "tandem_token"
SESSION_COOKIE = "tandem_session"  # a random id for this browser: the forms' tokens are tied to it
LANGUAGE_COOKIE = "tandem_lang"
NOTICE_COOKIE = "tandem_notice"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True)
class Cookies:
    """How the console names and sets its cookies. Secure (the default): every cookie is
    `Secure`, `HttpOnly`, `SameSite=Strict`, `Path=/`, no `Domain`, and named `__Host-...`, so
    the browser keeps it for this host over HTTPS only and no other host (a sibling subdomain)
    can set one in its place. Not secure (CONSOLE_SECURE_COOKIES=false, plain-HTTP local use):
    the plain names, since browsers refuse `__Host-` cookies without `Secure`."""

    secure: bool

    def name(self, base: str) -> str:
        return f"__Host-{base}" if self.secure else base

    def get(self, request: Request, base: str) -> str | None:
        return request.cookies.get(self.name(base))

    def set(self, response: Response, base: str, value: str, max_age: int | None = None) -> None:
        response.set_cookie(self.name(base), value, max_age=max_age, path="/", secure=self.secure, httponly=True, samesite="strict")

    def delete(self, response: Response, base: str) -> None:
        response.delete_cookie(self.name(base), path="/", secure=self.secure, httponly=True, samesite="strict")


def cookies(request: Request) -> Cookies:
    cookies: Cookies = request.app.state.cookies
    return cookies


class AntiForgery:
    """Form tokens tied to the browser's session: an HMAC, with a key only this console
    process holds, of the session cookie and of the sign-in token cookie. A token copied from
    another session (another browser, or before signing in or out) does not match."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def token(self, session_id: str, sign_in: str | None) -> str:
        signed = hashlib.sha256((sign_in or "").encode()).hexdigest()
        mac = hmac.new(self._key, f"{session_id}|{signed}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def check(self, sent: str, session_id: str | None, sign_in: str | None) -> bool:
        return bool(session_id) and hmac.compare_digest(sent.encode(), self.token(str(session_id), sign_in).encode())


@dataclass(frozen=True)
class User:
    """Who the token says the user is. The console reads the claims only to decide what to
    show; the services check the token's signature on every call and decide what is allowed."""

    token: str
    subject: str
    role: Role
    subsidiary: str | None
    expires_at: datetime

    @classmethod
    def from_token(cls, token: str) -> "User":
        try:
            claims = jwt.decode(token, options={"verify_signature": False, "require": ["exp", "sub"]})
            role = Role(str(claims.get("role", "")))  # none, or not a role: ValueError
        except (jwt.PyJWTError, ValueError) as exc:
            raise ValueError(f"not a Tandem token ({exc})") from None
        expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
        subsidiary = None if role is Role.GROUP_ADMIN else claims.get("subsidiary")
        return cls(token, str(claims["sub"]), role, subsidiary, expires_at)

    @property
    def expired(self) -> bool:
        return self.expires_at <= datetime.now(UTC)

    @property
    def owner(self) -> str:
        """Names this sign-in (for the jobs it starts) without keeping the token twice."""
        return hashlib.sha256(self.token.encode()).hexdigest()

    @property
    def is_group_admin(self) -> bool:
        return self.role is Role.GROUP_ADMIN

    @property
    def sees_group(self) -> bool:
        """A group admin, or an auditor of the whole group."""
        return self.subsidiary is None

    def can_write(self) -> bool:
        return self.role is not Role.AUDITOR


class SignInRequired(Exception):
    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason or "")
        self.reason = reason


def signed_in_user(request: Request) -> User | None:
    token = cookies(request).get(request, TOKEN_COOKIE)
    if not token:
        return None
    try:
        user = User.from_token(token)
    except ValueError:
        return None
    return None if user.expired else user


def current_user(request: Request) -> User:
    user = signed_in_user(request)
    if user is None:
        raise SignInRequired("expired" if cookies(request).get(request, TOKEN_COOKIE) else None)
    request.state.user = user
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def services_as_user(request: Request, user: CurrentUser) -> Api:
    return request.app.state.services.as_user(user.token, request.state.correlation_id)


Services = Annotated[Api, Depends(services_as_user)]


class TooLarge(Exception):
    """A request body over the console's limit (CONSOLE_MAX_FORM_BYTES, CONSOLE_MAX_UPLOAD_BYTES)."""

    def __init__(self, limit: int, upload: bool) -> None:
        super().__init__(f"the body is larger than {limit} bytes")
        self.limit = limit
        self.upload = upload


async def checked_form(request: Request) -> FormData:
    """The posted form, once its anti-forgery token is the one this browser's session was
    given (a page of another site can make the browser post, but cannot read the token, and
    one taken from another session does not match). A body over the limit was refused before
    (BodyLimit)."""
    form = await request.form()
    sent = str(form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or "")
    jar = cookies(request)
    if not request.app.state.forgery.check(sent, jar.get(request, SESSION_COOKIE), jar.get(request, TOKEN_COOKIE)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, N_("The form has expired or did not come from this console: reload the page and try again."))
    return form


Form = Annotated[FormData, Depends(checked_form)]


async def subsidiary(subsidiary_id: str, request: Request, api: Services) -> dict[str, Any]:
    """The subsidiary a page is about (its name and time zone head every page). Its 404
    also covers a subsidiary the token may not see."""
    found = await api.get("enrolment", api_path("/subsidiaries/{}", subsidiary_id))
    request.state.subsidiary = found
    return found


Subsidiary = Annotated[dict[str, Any], Depends(subsidiary)]


def writer(user: CurrentUser) -> User:
    if not user.can_write():
        raise HTTPException(status.HTTP_403_FORBIDDEN, N_("Auditors have read-only access."))
    return user


Writer = Annotated[User, Depends(writer)]

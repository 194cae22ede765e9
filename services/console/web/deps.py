"""What every page depends on: the signed-in user, the services as that user, the form
(checked against cross-site forgery), the subsidiary a page is about."""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request, status
from starlette.datastructures import FormData

from services.common.auth import Role
from services.console.gateway import Api, api_path
from services.console.i18n import N_

TOKEN_COOKIE = "tandem_token"
CSRF_COOKIE = "tandem_csrf"
LANGUAGE_COOKIE = "tandem_lang"
NOTICE_COOKIE = "tandem_notice"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


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
            role = Role(claims.get("role"))
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
    token = request.cookies.get(TOKEN_COOKIE)
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
        raise SignInRequired("expired" if request.cookies.get(TOKEN_COOKIE) else None)
    request.state.user = user
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def services_as_user(request: Request, user: CurrentUser) -> Api:
    return request.app.state.services.as_user(user.token, request.state.correlation_id)


Services = Annotated[Api, Depends(services_as_user)]


async def checked_form(request: Request) -> FormData:
    """The posted form, once its anti-forgery token matches the browser's cookie (a page of
    another site can make the browser post, but cannot read the cookie to copy it)."""
    form = await request.form()
    sent = str(form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or "")
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(sent, expected):
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

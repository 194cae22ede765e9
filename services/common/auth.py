"""Bearer JWT (HS256) authentication and the programme's access rules.

Roles: group-admin (every subsidiary), subsidiary-admin (claim `subsidiary`: that one only),
auditor (read-only; one subsidiary, or all when the claim is absent).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

ALGORITHM = "HS256"
ISSUER = "tandem"
# The longest a token may live (exp - iat); TANDEM_TOKEN_MAX_HOURS sets it per platform.
DEFAULT_MAX_LIFETIME = timedelta(hours=12)


class Role(StrEnum):
    GROUP_ADMIN = "group-admin"
    SUBSIDIARY_ADMIN = "subsidiary-admin"
    AUDITOR = "auditor"


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    subsidiary: str | None = None  # None: every subsidiary (group admin, group-wide auditor)

    def can_read(self, subsidiary_id: str) -> bool:
        return self.subsidiary is None or self.subsidiary == subsidiary_id

    def can_write(self, subsidiary_id: str) -> bool:
        return self.role is not Role.AUDITOR and self.can_read(subsidiary_id)


def issue_token(
    secret: str, role: Role | str, subsidiary: str | None = None, subject: str | None = None, ttl: timedelta = timedelta(hours=12)
) -> str:
    role = Role(role)
    if role is Role.SUBSIDIARY_ADMIN and not subsidiary:
        raise ValueError("a subsidiary-admin token needs a subsidiary")
    if role is Role.GROUP_ADMIN and subsidiary:
        raise ValueError("a group-admin token covers every subsidiary: give no subsidiary")
    now = datetime.now(timezone.utc)
    claims = {
        "iss": ISSUER,
        "sub": subject or f"{role}{'@' + subsidiary if subsidiary else ''}",
        "role": str(role),
        "iat": now,
        "exp": now + ttl,
    }
    if subsidiary:
        claims["subsidiary"] = subsidiary
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


class InvalidToken(Exception):
    pass


def verify_token(secret: str, token: str, max_lifetime: timedelta = DEFAULT_MAX_LIFETIME) -> Principal:
    try:
        # Only HS256: a token claiming `alg: none` or any other algorithm is refused.
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=ISSUER, options={"require": ["exp", "iat", "sub", "iss"]}
        )
        role = Role(str(claims.get("role", "")))  # none, or not a role: ValueError
    except (jwt.PyJWTError, ValueError) as exc:
        raise InvalidToken(str(exc)) from None
    # A token signed to live longer than the platform allows is refused, however it was made.
    if int(claims["exp"]) - int(claims["iat"]) > max_lifetime.total_seconds():
        raise InvalidToken(f"the token lives longer than the maximum of {max_lifetime.total_seconds() / 3600:g} h")
    subsidiary = claims.get("subsidiary")
    if role is Role.SUBSIDIARY_ADMIN and not subsidiary:
        raise InvalidToken("a subsidiary-admin token must name its subsidiary")
    if role is Role.GROUP_ADMIN:
        subsidiary = None
    return Principal(subject=str(claims["sub"]), role=role, subsidiary=subsidiary)


def token_max_lifetime(request: Request) -> timedelta:
    return getattr(request.app.state, "token_max_lifetime", DEFAULT_MAX_LIFETIME)


_bearer = HTTPBearer(auto_error=False, description="A token from `tandem token`")


def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    unauthorized = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing bearer token", headers=unauthorized)
    try:
        return verify_token(request.app.state.token_secret, credentials.credentials, token_max_lifetime(request))
    except InvalidToken as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"invalid token: {exc}", headers=unauthorized) from None


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


def require_group_admin(principal: CurrentPrincipal) -> Principal:
    if principal.role is not Role.GROUP_ADMIN:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only a group admin can do this")
    return principal


def subsidiary_reader(subsidiary_id: str, principal: CurrentPrincipal) -> Principal:
    """Anyone who may read this subsidiary. Another subsidiary's resources answer 404, so a
    token never learns whether a subsidiary it cannot see exists."""
    if not principal.can_read(subsidiary_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"subsidiary {subsidiary_id!r} not found")
    return principal


def subsidiary_writer(principal: Annotated[Principal, Depends(subsidiary_reader)]) -> Principal:
    if principal.role is Role.AUDITOR:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "auditors have read-only access")
    return principal


GroupAdmin = Annotated[Principal, Depends(require_group_admin)]
SubsidiaryReader = Annotated[Principal, Depends(subsidiary_reader)]
SubsidiaryWriter = Annotated[Principal, Depends(subsidiary_writer)]

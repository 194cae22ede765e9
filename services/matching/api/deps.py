"""Dependencies of matching's routes."""

from typing import Annotated

from fastapi import Depends, Request

from services.common.auth import authenticate
from services.common.http import content_type
from services.matching.application import MatchingApplication


def get_matching(request: Request) -> MatchingApplication:
    return request.app.state.matching


Matching = Annotated[MatchingApplication, Depends(get_matching)]

# Authentication first, so an anonymous caller learns nothing but 401.
JSON_BODY = [Depends(authenticate), Depends(content_type("application/json"))]

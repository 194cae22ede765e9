"""Dependencies of enrolment's routes."""

from typing import Annotated

from fastapi import Depends, Request

from services.common.auth import authenticate
from services.common.http import content_type
from services.enrolment.application import EnrolmentApplication


def get_enrolment(request: Request) -> EnrolmentApplication:
    return request.app.state.enrolment


Enrolment = Annotated[EnrolmentApplication, Depends(get_enrolment)]

# Authentication first, so an anonymous caller learns nothing but 401.
JSON_BODY = [Depends(authenticate), Depends(content_type("application/json"))]
CSV_BODY = [Depends(authenticate), Depends(content_type("text/csv"))]

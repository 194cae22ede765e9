"""Dependencies of enrolment's routes."""

from typing import Annotated

from fastapi import Depends

from services.common.http import authenticated_body
from services.common.service import current_application
from services.enrolment.application import EnrolmentApplication

Enrolment = Annotated[EnrolmentApplication, Depends(current_application)]

CSV_BODY = authenticated_body("text/csv")

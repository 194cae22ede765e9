"""Dependencies of matching's routes."""

from typing import Annotated

from fastapi import Depends

from services.common.service import current_application
from services.matching.application import MatchingApplication

Matching = Annotated[MatchingApplication, Depends(current_application)]

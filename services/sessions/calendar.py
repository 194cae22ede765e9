"""A session as an iCalendar invitation (RFC 5545), written with the `icalendar` library."""

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import STATUS as EVENT_STATUS
from icalendar import Calendar, Event, vCalAddress

PRODID = "-//Tandem//Reverse mentoring//EN"
STATUS = {"scheduled": EVENT_STATUS.CONFIRMED, "held": EVENT_STATUS.CONFIRMED, "cancelled": EVENT_STATUS.CANCELLED}


def invitation(session: dict[str, Any], subsidiary: dict[str, Any], now: datetime) -> bytes:
    """One VEVENT for the session, every participant an attendee, times in the subsidiary's
    time zone (with its VTIMEZONE). A rescheduled session keeps its UID and raises its
    SEQUENCE, so calendars update the meeting instead of adding another."""
    zone = zone_of(subsidiary.get("timezone"))
    start = session["starts_at"].astimezone(zone)
    # The end is computed on the instant, then shown in the zone: adding minutes to a zoned
    # time is wall-clock arithmetic, off by an hour across a daylight-saving change.
    end = (session["starts_at"].astimezone(UTC) + timedelta(minutes=session["duration_minutes"])).astimezone(zone)
    mentor = next(p for p in session["participants"] if p["role"] == "mentor")
    description = [f"Reverse-mentoring session ({session['format']}) on {session['theme']}."]
    if session["video_link"]:
        description.append(f"Join: {session['video_link']}")
    if session["cancellation_reason"]:
        description.append(f"Cancelled: {session['cancellation_reason']}")
    event = Event.new(
        uid=f"{session['id']}@tandem",
        summary=f"Reverse mentoring: {session['theme']}",
        start=start,
        end=end,
        stamp=now.astimezone(UTC),
        # RFC 5546: the sequence goes up with every change clients must apply, cancelling included.
        sequence=session["sequence"] + (1 if session["status"] == "cancelled" else 0),
        status=STATUS[session["status"]],
        location=session["location"] or session["video_link"],
        description="\n".join(description),
        organizer=_address(mentor, role=None),
        attendees=[_address(p, role="REQ-PARTICIPANT", organiser=p is mentor) for p in session["participants"]],
        url=session["video_link"],
    )
    calendar = Calendar.new(
        prodid=PRODID,
        method="CANCEL" if session["status"] == "cancelled" else "REQUEST",
        name=subsidiary.get("name") or None,
        uid=f"calendar-{session['id']}@tandem",  # the same file for the same session
        subcomponents=[event],
    )
    calendar.add_missing_timezones()
    return calendar.to_ical()


def _address(person: dict[str, Any], role: str | None, organiser: bool = False) -> vCalAddress:
    # Before enrolment's event about someone arrives, their address is unknown: a
    # placeholder keeps them in the invitation without inventing an email.
    email = person["email"] or f"participant-{person['id']}@invalid"
    partstat = None if role is None else "ACCEPTED" if organiser else "NEEDS-ACTION"  # the mentor sends it
    return vCalAddress.new(email, cn=person["name"] or None, role=role, partstat=partstat)


def zone_of(name: str | None) -> Any:
    """The subsidiary's time zone; UTC for one this machine does not know."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return UTC

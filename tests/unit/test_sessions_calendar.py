"""A session's invitation (services.sessions.calendar): what a calendar application reads
back from it. No I/O."""

from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from services.sessions.calendar import invitation

NOW = datetime(2030, 3, 1, 8, 0, tzinfo=UTC)
START = datetime(2030, 3, 5, 13, 0, tzinfo=UTC)  # 14:00 in Paris (winter time)
PARIS = {"name": "AXA France", "timezone": "Europe/Paris"}


def session(**changes) -> dict:
    """A session as the read model gives it."""
    return {
        "id": "0b6f5c8e-9a41-4c55-9f3a-0e7e2b3c4d5f",
        "format": "mini-session",
        "theme": "online learning",
        "starts_at": START,
        "duration_minutes": 90,
        "location": "Room 4.12",
        "video_link": "https://meet.example.com/tandem-42",
        "status": "scheduled",
        "sequence": 0,
        "cancellation_reason": None,
        "participants": [
            {"id": "m1", "name": "Zoé Leroy", "email": "zoe@axa.fr", "role": "mentor", "present": None},
            {"id": "e1", "name": "Jeanne Martin", "email": "jeanne@axa.fr", "role": "mentee", "present": None},
            {"id": "e2", "name": "Paul Durand", "email": "paul@axa.fr", "role": "mentee", "present": None},
        ],
        **changes,
    }


def parsed(session_: dict, subsidiary: dict = PARIS) -> Calendar:
    return Calendar.from_ical(invitation(session_, subsidiary, NOW))


def the_event(calendar: Calendar):
    [event] = calendar.walk("VEVENT")
    return event


def attendees(event) -> dict[str, str | None]:
    found = event.get("ATTENDEE")
    found = found if isinstance(found, list) else [found]
    return {str(a): a.params.get("CN") for a in found}


def test_one_event_with_a_stable_uid_and_a_summary():
    calendar = parsed(session())
    event = the_event(calendar)
    assert calendar["METHOD"] == "REQUEST"
    assert event["UID"] == "0b6f5c8e-9a41-4c55-9f3a-0e7e2b3c4d5f@tandem"
    assert the_event(parsed(session(sequence=3)))["UID"] == event["UID"]  # the same meeting, updated
    assert "online learning" in event["SUMMARY"]
    assert event["STATUS"] == "CONFIRMED"


def test_the_times_are_in_the_subsidiary_s_time_zone_with_its_definition():
    calendar = parsed(session())
    event = the_event(calendar)
    start, end = event["DTSTART"].dt, event["DTEND"].dt
    assert start == START and end == START + timedelta(minutes=90)  # the same instants
    assert str(start.tzinfo) == "Europe/Paris" and (start.hour, start.minute) == (14, 0)  # as people in Paris read it
    assert event["DTSTART"].params["TZID"] == "Europe/Paris"
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]


def lasts(event) -> timedelta:
    """The event's real length (subtracting two times of one zone would compare wall clocks)."""
    return event["DTEND"].dt.astimezone(UTC) - event["DTSTART"].dt.astimezone(UTC)


def test_summer_time_is_that_of_the_session_s_date():
    event = the_event(parsed(session(starts_at=datetime(2030, 7, 2, 8, 0, tzinfo=UTC), duration_minutes=45)))
    assert event["DTSTART"].dt.hour == 10  # UTC+2 in July
    assert lasts(event) == timedelta(minutes=45)


@pytest.mark.parametrize(
    ("starts_at", "local_start", "local_end"),
    [
        (datetime(2030, 3, 31, 0, 30, tzinfo=UTC), (1, 30), (4, 0)),  # 01:30 CET; clocks go forward at 02:00
        (datetime(2030, 10, 27, 0, 30, tzinfo=UTC), (2, 30), (3, 0)),  # 02:30 CEST; clocks go back at 03:00
    ],
)
def test_a_session_across_a_daylight_saving_change_lasts_its_duration(starts_at, local_start, local_end):
    event = the_event(parsed(session(starts_at=starts_at, duration_minutes=90)))
    assert lasts(event) == timedelta(minutes=90)
    assert event["DTEND"].dt == starts_at + timedelta(minutes=90)
    assert (event["DTSTART"].dt.hour, event["DTSTART"].dt.minute) == local_start
    assert (event["DTEND"].dt.hour, event["DTEND"].dt.minute) == local_end  # as the clocks in Paris show it


def test_another_subsidiary_s_time_zone_is_used_and_an_unknown_one_falls_back_to_utc():
    tokyo = the_event(parsed(session(), {"name": "AXA Japan", "timezone": "Asia/Tokyo"}))
    assert tokyo["DTSTART"].dt.hour == 22 and tokyo["DTSTART"].dt == START
    unknown = the_event(parsed(session(), {"name": None, "timezone": "Mars/Olympus"}))
    assert unknown["DTSTART"].dt == START and unknown["DTSTART"].dt.utcoffset() == timedelta(0)


def test_every_participant_is_an_attendee_and_the_mentor_organises():
    event = the_event(parsed(session()))
    assert attendees(event) == {
        "mailto:zoe@axa.fr": "Zoé Leroy",
        "mailto:jeanne@axa.fr": "Jeanne Martin",
        "mailto:paul@axa.fr": "Paul Durand",
    }
    assert str(event["ORGANIZER"]) == "mailto:zoe@axa.fr" and event["ORGANIZER"].params["CN"] == "Zoé Leroy"
    replies = {str(a): a.params["PARTSTAT"] for a in event.get("ATTENDEE")}
    assert replies == {"mailto:zoe@axa.fr": "ACCEPTED", "mailto:jeanne@axa.fr": "NEEDS-ACTION", "mailto:paul@axa.fr": "NEEDS-ACTION"}


def test_the_same_session_gives_the_same_file():
    assert invitation(session(), PARIS, NOW) == invitation(session(), PARIS, NOW)


def test_someone_enrolment_has_not_told_about_yet_is_still_invited_without_an_invented_address():
    people = session()["participants"]
    people[2] = {"id": "e2", "name": None, "email": None, "role": "mentee", "present": None}
    found = attendees(the_event(parsed(session(participants=people))))
    assert len(found) == 3
    [placeholder] = [address for address in found if "e2" in address]
    assert placeholder.endswith("invalid")  # a reserved domain name (RFC 2606): never delivered
    assert found[placeholder] is None


def test_the_sequence_follows_reschedules():
    assert the_event(parsed(session()))["SEQUENCE"] == 0
    moved = the_event(parsed(session(sequence=2, starts_at=START + timedelta(days=1))))
    assert moved["SEQUENCE"] == 2 and moved["DTSTART"].dt == START + timedelta(days=1)


def test_a_cancelled_session_is_a_cancellation():
    calendar = parsed(session(status="cancelled", cancellation_reason="the mentor is ill", sequence=1))
    event = the_event(calendar)
    assert calendar["METHOD"] == "CANCEL"
    assert event["STATUS"] == "CANCELLED"
    assert event["UID"] == "0b6f5c8e-9a41-4c55-9f3a-0e7e2b3c4d5f@tandem"  # cancels that meeting
    assert "the mentor is ill" in event["DESCRIPTION"]
    assert event["SEQUENCE"] == 2  # RFC 5546: above the last invitation's, so clients apply it


def test_a_held_session_stays_confirmed():
    calendar = parsed(session(status="held"))
    assert calendar["METHOD"] == "REQUEST" and the_event(calendar)["STATUS"] == "CONFIRMED"


def test_the_video_link_is_there_to_join():
    event = the_event(parsed(session()))
    assert str(event["URL"]) == "https://meet.example.com/tandem-42"
    assert "https://meet.example.com/tandem-42" in event["DESCRIPTION"]
    assert event["LOCATION"] == "Room 4.12"


@pytest.mark.parametrize(
    ("location", "video_link", "shown"),
    [
        (None, "https://meet.example.com/v", "https://meet.example.com/v"),  # a video session: the link is the place
        ("Room 1", None, "Room 1"),
    ],
)
def test_the_place_is_the_room_or_else_the_link(location, video_link, shown):
    event = the_event(parsed(session(location=location, video_link=video_link)))
    assert event["LOCATION"] == shown
    assert ("URL" in event) is (video_link is not None)


def test_the_stamp_is_the_time_of_writing_in_utc():
    event = the_event(parsed(session()))
    assert event["DTSTAMP"].dt == NOW and event["DTSTAMP"].dt.utcoffset() == timedelta(0)


def test_the_calendar_is_named_after_the_subsidiary():
    assert str(parsed(session())["NAME"]) == "AXA France"
    assert "NAME" not in parsed(session(), {"name": None, "timezone": "Europe/Paris"})


def test_the_file_is_crlf_delimited_text():
    raw = invitation(session(), PARIS, NOW)
    assert raw.startswith(b"BEGIN:VCALENDAR\r\n") and raw.endswith(b"END:VCALENDAR\r\n")
    assert all(line.endswith(b"\r") for line in raw.split(b"\n")[:-1])

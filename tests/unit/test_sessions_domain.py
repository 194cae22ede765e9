"""Sessions' domain: relationships and their sessions, the members' agendas, the roster of a
subsidiary. No I/O; the clock is an argument."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.common.context import acting
from services.sessions.domain import (
    ACTIVE,
    CANCELLED,
    CLOSED,
    COMPLETED,
    HELD,
    MENTEE,
    MENTOR,
    SCHEDULED,
    Agenda,
    Relationship,
    Roster,
    SessionsError,
    ends_at,
    relationship_id,
)

CONTEXT = {"subsidiary_id": "axa-fr", "actor": {"subject": "alice", "role": "group-admin"}, "correlation_id": "c1", "causation_id": "r1"}
MATCHED = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
NOW = MATCHED + timedelta(days=1)
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def _acting() -> Iterator[None]:
    """Every event a test records is recorded as one command's (services.common.context)."""
    with acting(**CONTEXT):
        yield


def relationship(*mentees: str, target: int = 2, format: str | None = None, match_id: str = "match-1") -> Relationship:  # noqa: A002
    mentees = mentees or ("e1",)
    return Relationship(
        subsidiary_id="axa-fr",
        match_id=match_id,
        format=format or ("pair" if len(mentees) == 1 else "mini-session"),
        mentor_id="m1",
        mentee_ids=list(mentees),
        theme="networking",
        target_sessions=target,
        session_minutes=60,
        matched_at=MATCHED,
    )


def schedule(rel: Relationship, session_id: str, starts_at: datetime, minutes: int = 60) -> None:
    rel.schedule(session_id, "networking", starts_at, minutes, "Room 1", None, starts_at - timedelta(hours=1))  # booked an hour before


def hold(rel: Relationship, session_id: str, starts_at: datetime) -> None:
    """Schedule a session and hold it, the clock past its start."""
    schedule(rel, session_id, starts_at)
    rel.complete_session(session_id, starts_at + timedelta(hours=1))


def refused(command, *args) -> str:
    """The code of the domain's refusal."""
    with pytest.raises(SessionsError) as raised:
        command(*args)
    return raised.value.reason.code


# -- the relationship's life ------------------------------------------------------------


def test_a_match_opens_one_relationship_however_often_it_is_delivered():
    assert relationship().id == relationship().id == relationship_id("match-1")
    assert relationship(match_id="match-2").id != relationship().id


def test_a_relationship_completes_once_its_target_of_sessions_is_held():
    rel = relationship(target=2)
    hold(rel, "s1", NOW + DAY)
    assert (rel.status, rel.held) == (ACTIVE, 1)
    hold(rel, "s2", NOW + 2 * DAY)
    assert (rel.status, rel.held) == (COMPLETED, 2)
    assert [type(e).__name__ for e in rel.collect_events()][-2:] == ["SessionHeld", "Completed"]


def test_after_completion_members_go_on_meeting_and_writing_notes():
    rel = relationship(target=1)
    hold(rel, "s1", NOW + DAY)
    assert rel.status == COMPLETED
    hold(rel, "s2", NOW + 2 * DAY)
    rel.add_note("e1", "Thanks for the tips on LinkedIn", NOW + 3 * DAY)
    assert (rel.status, rel.held) == (COMPLETED, 2)  # completed once, not again
    assert [type(e).__name__ for e in rel.collect_events()].count("Completed") == 1
    assert rel.notes == [{"author_id": "e1", "note": "Thanks for the tips on LinkedIn", "written_at": NOW + 3 * DAY}]


def test_closing_early_cancels_the_sessions_still_to_come_and_names_them():
    rel = relationship(target=5)
    hold(rel, "held", NOW + DAY)
    schedule(rel, "next", NOW + 10 * DAY)
    schedule(rel, "later", NOW + 20 * DAY)
    rel.cancel("later", "mentor away")
    cancelled = rel.close("the mentee left the company")
    assert cancelled == ["next"]  # neither the held one nor the one already cancelled
    assert (rel.status, rel.reason) == (CLOSED, "the mentee left the company")
    assert rel.sessions["next"]["status"] == CANCELLED
    assert rel.sessions["next"]["reason"] == "the relationship was closed: the mentee left the company"
    assert rel.sessions["later"]["reason"] == "mentor away"
    assert rel.sessions["held"]["status"] == HELD


def test_a_completed_relationship_stays_completed_when_its_match_ends():
    rel = relationship(target=1)
    hold(rel, "s1", NOW + DAY)
    assert rel.close("the mentor withdrew") == []
    assert (rel.status, rel.reason) == (COMPLETED, None)
    rel.add_note("m1", "Still in touch", NOW + 2 * DAY)  # the exchange goes on


def test_closing_twice_changes_nothing():
    rel = relationship()
    rel.close("declined")
    rel.collect_events()
    assert rel.close("ended") == []
    assert rel.reason == "declined" and rel.collect_events() == []


def test_a_closed_relationship_refuses_sessions_and_notes():
    rel = relationship()
    rel.close("the match was declined")
    assert refused(schedule, rel, "s1", NOW + DAY) == "relationship_closed"
    assert refused(rel.add_note, "e1", "hello", NOW) == "relationship_closed"
    assert [p.code for p in rel.scheduling_problems(10)] == ["relationship_closed"]
    assert rel.sessions == {} and rel.notes == []


def test_only_members_write_notes():
    rel = relationship()
    assert refused(rel.add_note, "stranger", "hello", NOW) == "not_a_relationship_member"


# -- the rules of a session -------------------------------------------------------------


def test_a_scheduled_session_is_booked_for_every_member_mentor_first():
    rel = relationship("e1", "e2")
    schedule(rel, "s1", NOW + DAY, minutes=45)
    session = rel.sessions["s1"]
    assert session["participant_ids"] == ["m1", "e1", "e2"]
    assert (session["status"], session["sequence"], session["duration_minutes"]) == (SCHEDULED, 0, 45)
    assert (rel.role_of("m1"), rel.role_of("e2"), rel.role_of("x")) == (MENTOR, MENTEE, None)


def test_each_reschedule_raises_the_sequence():
    rel = relationship()
    schedule(rel, "s1", NOW + DAY)
    rel.reschedule("s1", NOW + 2 * DAY, 90, None, "https://meet.example.com/a", NOW)
    rel.reschedule("s1", NOW + 3 * DAY, 30, "Room 2", None, NOW)
    session = rel.sessions["s1"]
    assert (session["sequence"], session["starts_at"], session["duration_minutes"]) == (2, NOW + 3 * DAY, 30)
    assert (session["location"], session["video_link"]) == ("Room 2", None)


def test_a_session_cannot_be_moved_into_the_past():
    rel = relationship()
    schedule(rel, "s1", NOW + DAY)
    assert refused(rel.reschedule, "s1", NOW - DAY, 60, "Room 1", None, NOW) == "in_the_past"
    assert rel.sessions["s1"]["sequence"] == 0


def test_a_session_cannot_be_booked_to_start_in_the_past_but_one_held_can_be_recorded():
    rel = relationship()
    assert refused(rel.schedule, "s1", "networking", NOW, 60, "Room 1", None, NOW) == "in_the_past"
    assert rel.sessions == {}
    rel.record_held_session("s2", "networking", NOW - DAY / 2, 60, None, None, dict.fromkeys(rel.members, True), NOW)
    assert rel.sessions["s2"]["status"] == HELD
    assert refused(rel.record_held_session, "s3", "networking", NOW + DAY, 60, None, None, dict.fromkeys(rel.members, True), NOW) == "held_in_the_future"


@pytest.mark.parametrize("ended", [HELD, CANCELLED])
def test_only_a_scheduled_session_is_rescheduled_or_cancelled(ended):
    rel = relationship(target=5)
    schedule(rel, "s1", NOW + DAY)
    if ended == HELD:
        rel.complete_session("s1", NOW + 2 * DAY)
    else:
        rel.cancel("s1", "ill")
    rel.collect_events()
    code = "session_already_held" if ended == HELD else "session_cancelled"
    assert refused(rel.reschedule, "s1", NOW + 3 * DAY, 60, None, None, NOW) == code
    assert refused(rel.cancel, "s1", "again") == code
    assert rel.collect_events() == []


def test_an_unknown_session_is_not_found():
    rel = relationship()
    with pytest.raises(KeyError):
        rel.cancel("nope", "x")
    with pytest.raises(KeyError):
        rel.complete_session("nope", NOW)


def test_nothing_is_recorded_about_a_session_before_it_starts():
    rel = relationship()
    schedule(rel, "s1", NOW + DAY)
    before_start = NOW + DAY - timedelta(minutes=1)
    for command, args in [
        (rel.record_attendance, ("s1", "e1", True, before_start)),
        (rel.give_feedback, ("s1", "e1", 5, None, before_start)),
        (rel.complete_session, ("s1", before_start)),
    ]:
        assert refused(command, *args) == "session_not_started"
    rel.record_attendance("s1", "e1", True, NOW + DAY)  # from its start on
    assert rel.sessions["s1"]["attendance"] == {"e1": True} and rel.held == 0


def test_nothing_is_recorded_about_a_cancelled_session():
    rel = relationship()
    schedule(rel, "s1", NOW + DAY)
    rel.cancel("s1", "ill")
    later = NOW + 2 * DAY
    assert refused(rel.record_attendance, "s1", "e1", True, later) == "session_cancelled"
    assert refused(rel.give_feedback, "s1", "e1", 5, None, later) == "session_cancelled"
    assert refused(rel.complete_session, "s1", later) == "session_cancelled"
    assert rel.held == 0 and rel.sessions["s1"]["attendance"] == {} and rel.sessions["s1"]["feedback"] == {}


def test_a_session_is_held_once():
    rel = relationship(target=5)
    hold(rel, "s1", NOW + DAY)
    assert refused(rel.complete_session, "s1", NOW + 2 * DAY) == "session_already_held"
    assert rel.held == 1


def test_feedback_goes_both_ways_once_per_member():
    rel = relationship()
    hold(rel, "s1", NOW + DAY)
    later = NOW + 2 * DAY
    rel.give_feedback("s1", "m1", 4, "Curious mentee", later)
    rel.give_feedback("s1", "e1", 5, None, later)
    assert refused(rel.give_feedback, "s1", "e1", 1, "changed my mind", later) == "feedback_already_given"
    assert rel.sessions["s1"]["feedback"] == {
        "m1": {"role": MENTOR, "rating": 4, "comment": "Curious mentee"},
        "e1": {"role": MENTEE, "rating": 5, "comment": None},
    }


def test_feedback_may_come_before_the_session_is_marked_held():
    rel = relationship()
    schedule(rel, "s1", NOW + DAY)
    rel.give_feedback("s1", "e1", 3, None, NOW + DAY + timedelta(minutes=5))
    assert rel.sessions["s1"]["feedback"]["e1"]["rating"] == 3


def test_non_members_neither_attend_nor_give_feedback():
    rel = relationship()
    hold(rel, "s1", NOW + DAY)
    later = NOW + 2 * DAY
    for stranger in ("e2", "m2"):
        assert refused(rel.record_attendance, "s1", stranger, True, later) == "not_a_session_member"
        assert refused(rel.give_feedback, "s1", stranger, 5, None, later) == "not_a_session_member"
    assert rel.sessions["s1"]["attendance"] == {} and rel.sessions["s1"]["feedback"] == {}


def test_the_last_attendance_record_counts():
    rel = relationship("e1", "e2")
    hold(rel, "s1", NOW + DAY)
    later = NOW + 2 * DAY
    rel.record_attendance("s1", "e1", False, later)
    rel.record_attendance("s1", "e2", False, later)
    rel.record_attendance("s1", "e1", True, later)  # arrived late after all
    assert rel.sessions["s1"]["attendance"] == {"e1": True, "e2": False}


def test_recording_the_same_attendance_again_records_nothing():
    rel = relationship()
    schedule(rel, "s1", NOW + DAY)
    later = NOW + DAY + timedelta(minutes=5)
    rel.record_attendance("s1", "e1", True, later)
    rel.collect_events()
    rel.record_attendance("s1", "e1", True, later)  # a retried request
    assert rel.collect_events() == []


def test_a_member_recorded_absent_gives_no_feedback():
    rel = relationship()
    schedule(rel, "s1", NOW + DAY)
    later = NOW + DAY + timedelta(minutes=5)
    rel.record_attendance("s1", "e1", False, later)
    assert refused(rel.give_feedback, "s1", "e1", 4, None, later) == "participant_absent"
    rel.give_feedback("s1", "m1", 2, "they did not come", later)  # the mentor, present or not recorded, may


@pytest.mark.parametrize(
    ("absent", "held"),
    [((), True), (("e1",), True), (("e1", "e2"), False), (("m1",), False)],
    ids=["everyone came", "one mentee missing", "no mentee came", "the mentor did not come"],
)
def test_a_session_without_its_mentor_or_without_any_mentee_is_a_no_show_not_a_session_held(absent, held):
    rel = relationship("e1", "e2")
    schedule(rel, "s1", NOW + DAY)
    later = NOW + DAY + timedelta(minutes=5)
    for member in absent:
        rel.record_attendance("s1", member, False, later)
    if held:
        rel.complete_session("s1", later)
        assert rel.held == 1
    else:
        assert refused(rel.complete_session, "s1", later) == "session_no_show"
        rel.cancel("s1", "no-show")  # what the admin does instead
        assert (rel.held, rel.sessions["s1"]["status"]) == (0, CANCELLED)


def test_a_group_larger_than_the_programme_allows_cannot_meet():
    group = relationship("e1", "e2", "e3")
    assert group.scheduling_problems(3) == []
    [problem] = group.scheduling_problems(2)
    assert (problem.code, problem.params) == ("group_too_large", {"mentees": 3, "mini_session_max": 2})  # the mentor not counted
    group.close("ended")
    assert len(group.scheduling_problems(2)) == 2  # every reason, not the first one only


def test_the_size_limit_is_for_mini_sessions_only():
    assert relationship("e1").scheduling_problems(2) == []
    assert relationship("e1", "e2", "e3", format="pair").scheduling_problems(2) == []


# -- agendas ----------------------------------------------------------------------------


def agenda(*bookings: tuple[str, datetime, int]) -> Agenda:
    booked = Agenda(participant_id="m1", subsidiary_id="axa-fr")
    for session_id, start, minutes in bookings:
        booked.book(session_id=session_id, starts_at=start, ends_at=ends_at(start, minutes))
    return booked


TEN = datetime(2030, 3, 5, 10, 0, tzinfo=UTC)
H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("start", "end", "clashes"),
    [
        (TEN - H, TEN, False),  # ends when the booked one starts
        (TEN + H, TEN + 2 * H, False),  # starts when the booked one ends
        (TEN - H, TEN + timedelta(minutes=1), True),
        (TEN + timedelta(minutes=59), TEN + 2 * H, True),
        (TEN + timedelta(minutes=15), TEN + timedelta(minutes=30), True),  # inside
        (TEN - H, TEN + 2 * H, True),  # around
        (TEN, TEN + H, True),  # the same slot
    ],
)
def test_bookings_are_half_open_intervals(start, end, clashes):
    assert (agenda(("s1", TEN, 60)).clash(start, end) == "s1") is clashes


def test_the_same_instant_in_another_time_zone_clashes():
    paris = TEN.astimezone(ZoneInfo("Europe/Paris"))
    assert agenda(("s1", TEN, 60)).clash(paris, paris + H) == "s1"


def test_a_session_being_moved_does_not_clash_with_itself():
    booked = agenda(("s1", TEN, 60), ("s2", TEN + 3 * H, 60))
    assert booked.clash(TEN + timedelta(minutes=30), TEN + timedelta(minutes=90), ignoring="s1") is None
    assert booked.clash(TEN + timedelta(minutes=150), TEN + timedelta(minutes=210), ignoring="s1") == "s2"


def test_the_earliest_clash_is_named_and_a_released_booking_frees_the_time():
    booked = agenda(("late", TEN + H, 60), ("early", TEN, 60))
    assert booked.clash(TEN, TEN + 2 * H) == "early"
    booked.release(session_id="early")
    assert booked.clash(TEN, TEN + H) is None
    assert booked.clash(TEN, TEN + 2 * H) == "late"
    booked.release(session_id="never booked")  # nothing to free: no harm
    assert list(booked.bookings) == ["late"]


def test_rebooking_a_session_moves_it():
    booked = agenda(("s1", TEN, 60))
    booked.book(session_id="s1", starts_at=TEN + 5 * H, ends_at=TEN + 6 * H)
    assert booked.clash(TEN, TEN + H) is None
    assert booked.clash(TEN + 5 * H, TEN + 6 * H) == "s1"


# -- the roster -------------------------------------------------------------------------


def roster(themes=("Networking", "Online learning", "Managing one's data on social networks")) -> Roster:
    r = Roster(subsidiary_id="axa-fr")
    r.note_programme(settings={"themes": list(themes), "mini_session_max": 4})
    return r


@pytest.mark.parametrize(
    ("asked", "canonical"),
    [
        ("networking", "Networking"),
        ("  NETWORKING ", "Networking"),
        ("online   learning", "Online learning"),
        ("managing one's data on social networks", "Managing one's data on social networks"),
        ("cooking", None),
        ("network", None),
    ],
)
def test_a_theme_is_the_programme_s_spelling_of_it(asked, canonical):
    assert roster().rules.canonical_theme(asked) == canonical


def test_the_programme_s_rules_before_and_after_it_is_known():
    r = Roster(subsidiary_id="axa-fr")
    assert (r.rules.themes, r.rules.mini_session_max, r.rules.canonical_theme("networking")) == ([], 10, None)
    r.note_programme(settings={"themes": ["networking"], "mini_session_max": 3})
    r.note_programme(settings={"themes": ["online learning"], "mini_session_max": 2})
    assert (r.rules.themes, r.rules.mini_session_max) == (["online learning"], 2)  # the latest programme counts


def test_a_match_waits_for_the_programme_and_is_forgotten_if_it_ends_first():
    r = Roster(subsidiary_id="axa-fr")
    r.hold_match(match={"match_id": "a"})
    r.hold_match(match={"match_id": "b"})
    r.note_match_end(match_id="a")
    assert list(r.waiting_matches) == ["b"]
    r.release_matches(match_ids=["b"])
    assert r.waiting_matches == {}


@pytest.mark.parametrize(
    ("mentees", "who", "cancelled"),
    [(("e1",), "e1", True), (("e1",), "m1", True), (("e1", "e2"), "e1", False), (("e1", "e2"), "m1", True), (("e1",), "x9", False)],
    ids=["pair, the mentee", "pair, the mentor", "group, a mentee", "group, the mentor", "not a member"],
)
def test_a_withdrawal_after_completion_cancels_the_sessions_still_to_come(mentees, who, cancelled):
    rel = relationship(*mentees, target=1)
    hold(rel, "s1", NOW + DAY)
    schedule(rel, "s2", NOW + 5 * DAY)
    assert rel.status == COMPLETED
    gone, left = rel.note_withdrawal(who, "moved on", NOW + 2 * DAY)
    assert gone == (["s2"] if cancelled else [])
    assert rel.sessions["s2"]["status"] == (CANCELLED if cancelled else SCHEDULED)
    assert (rel.sessions["s1"]["status"], rel.status) == (HELD, COMPLETED)
    if who == "e1" and len(mentees) > 1:  # the group goes on without them
        assert left == ["s2"] and rel.sessions["s2"]["participant_ids"] == ["m1", "e2"] and rel.mentee_ids == ["e2"]
        assert rel.sessions["s1"]["participant_ids"] == ["m1", "e1", "e2"]  # what was held stays as it was
    else:
        assert left == []


def test_a_withdrawal_leaves_an_active_relationship_to_matching():
    rel = relationship()
    schedule(rel, "s1", NOW + DAY)
    assert rel.note_withdrawal("e1", "moved on", NOW) == ([], [])  # its MatchEnded closes it
    assert rel.sessions["s1"]["status"] == SCHEDULED

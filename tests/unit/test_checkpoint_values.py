"""Checkpoints as pure values: what a signature covers, and what a history is found to be
against signed checkpoints and kept heads (services/common/checkpoints.py)."""

import io
import json
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from infra import audit
from services.common.checkpoints import Checkpoint, ExpectedHead, SigningKey, check_checkpoints, load_public_key

KEY = SigningKey(Ed25519PrivateKey.generate())
H = {position: f"{position:064x}" for position in range(1, 11)}


def events(positions, log="axa-fr", service="enrolment", hashes=H):
    return [{"service": service, "subsidiary_id": log, "position": p, "hash": hashes[p]} for p in positions]


def signed(position, hash_=None, log="axa-fr", key=KEY):
    return key.sign("enrolment", log, position, hash_ or H[position]).as_json()


def test_a_signature_covers_every_field_and_the_public_key_round_trips_as_pem():
    checkpoint = Checkpoint.from_json(signed(5))
    public_key = load_public_key(KEY.public_pem())
    assert checkpoint.verifies_with(public_key) and checkpoint.key_id == KEY.key_id
    for change in ({"position": 6}, {"hash": H[6]}, {"log": "axa-be"}, {"service": "sessions"}, {"at": "2020-01-01T00:00:00.000000Z"}):
        assert not replace(checkpoint, **change).verifies_with(public_key), change
    assert not checkpoint.verifies_with(SigningKey(Ed25519PrivateKey.generate()).public_key)


@pytest.mark.parametrize(
    ("positions", "checkpoint", "expected"),
    [
        (range(1, 11), signed(8), None),
        (range(1, 11), signed(8, H[9]), "REWRITTEN: enrolment/axa-fr position 8"),
        (range(1, 6), signed(8), "TRUNCATED: enrolment/axa-fr ends at position 5"),
        ([], signed(8), "TRUNCATED: enrolment/axa-fr ends at position 0"),
        ([1, 2, 3, 5, 6], signed(4), "TRUNCATED: enrolment/axa-fr position 4"),
        (range(6, 11), signed(3), None),  # an export --since: before its first event, not checked
    ],
    ids=["as-signed", "rewritten", "cut", "all-gone", "missing-inside", "before-the-export"],
)
def test_a_history_against_a_checkpoint(positions, checkpoint, expected):
    vouched, problems = check_checkpoints(events(positions), [checkpoint], [KEY.public_key])
    if expected is None:
        assert problems == []
    else:
        [problem] = problems
        assert problem.startswith(expected), problem
        assert ("enrolment", "axa-fr") not in vouched


def test_how_far_checkpoints_vouch_and_that_a_forged_one_counts_for_nothing():
    other = SigningKey(Ed25519PrivateKey.generate())
    vouched, problems = check_checkpoints(events(range(1, 11)), [signed(3), signed(7), signed(9, key=other)], [KEY.public_key])
    assert vouched[("enrolment", "axa-fr")].signed_up_to == 7
    [problem] = problems
    assert problem.startswith("FORGED? enrolment/axa-fr") and other.key_id in problem
    # An older key, still trusted, counts too.
    vouched, problems = check_checkpoints(events(range(1, 11)), [signed(9, key=other)], [KEY.public_key, other.public_key])
    assert problems == [] and vouched[("enrolment", "axa-fr")].signed_up_to == 9


def test_a_kept_head_is_compared_like_a_checkpoint():
    head = ExpectedHead.parse(f"enrolment/axa-fr:6:{H[6]}")
    assert check_checkpoints(events(range(1, 11)), [], [], [head]) == ({}, [])
    [problem] = check_checkpoints(events(range(1, 5)), [], [], [head])[1]
    assert problem.startswith("TRUNCATED") and "the head you expected" in problem
    for malformed in ("enrolment:6:" + H[6], "enrolment/axa-fr:six:" + H[6], "enrolment/axa-fr:6:abc"):
        with pytest.raises(ValueError, match="SERVICE/SUBSIDIARY:POSITION:HASH"):
            ExpectedHead.parse(malformed)


class History:
    """An AuditClient with nothing to list: the export's checkpoint lines alone."""

    def history(self, *args):
        return []


def test_an_export_until_a_time_keeps_only_the_checkpoints_signed_by_then():
    early, late = signed(3), signed(7)
    early["at"], late["at"] = "2026-03-01T10:00:00.000000Z", "2026-03-02T10:00:00.000000Z"
    out = io.StringIO()
    audit.export(History(), "axa-fr", None, "2026-03-01T12:00:00+00:00", out, checkpoints=[early, late])
    assert [json.loads(line)["checkpoint"]["position"] for line in out.getvalue().splitlines()] == [3]

"""Personal data, sealed per participant: the token format and where the fields are.

A personal value travels (and is stored) as a token naming its data subject,
``sealed:2:<participant id>:<ciphertext, base64url>``, encrypted with that participant's own
key (AES-256-GCM). Whoever can reach the shared key store reads it; once the key is destroyed
(the right to erasure) nobody can, and the value reads as null.

A version-2 token is bound to where it belongs (`Binding`: its participant, its field's name
and its event's subsidiary, as AES-GCM associated data): moved to another participant, field
or subsidiary, it does not open. Version-1 tokens (written before binding existed) still open,
only where their participant is the field's own. A token that does not open reads as
unavailable (None), like an erased value; it never raises.

Values are data: whatever arrives as input is sealed, even if it looks like a token (only a
relay, publishing what its own store holds, passes tokens on as they are).

Which values are personal, and whose they are, is declared as paths: ``{field: subject}``,
both dotted paths from the same root, e.g. ``{"payload.personal_data.email":
"payload.participant_id"}``. A segment ending in ``[]`` goes through every item of a list;
the subject is looked up in the same item (``proposals[].mentor_name`` belongs to
``proposals[].mentor_id``); two lists ending both paths pair up item by item
(``mentee_names[]`` with ``mentee_ids[]``).

The cryptography and the key store are the services' (services/common/personal_data.py);
here are only the format and pure functions taking a `Keys`.
"""

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Protocol, TypeVar

from pydantic import StringConstraints, WithJsonSchema

TOKEN_VERSION = 2
TOKEN_PREFIX = f"sealed:{TOKEN_VERSION}:"
TOKEN_PATTERN = r"^sealed:[12]:[^:\s]+:[A-Za-z0-9_-]+={0,2}$"  # version 1 is still read
_TOKEN = re.compile(TOKEN_PATTERN)

# {dotted path of a personal value: dotted path of its data subject's participant id}
PersonalFields = Mapping[str, str]

T = TypeVar("T")

# A token, as a value may also be held in memory: a relay publishes what it read from its
# store as it is, still sealed, rather than opening it and sealing it again.
SealedToken = Annotated[str, StringConstraints(pattern=TOKEN_PATTERN)]

# A personal field of an event in memory: the plaintext, None once erased, or still sealed
# (a relay's). On the wire it is a token (or null), which is what its JSON Schema says.
Sealed = Annotated[
    T | SealedToken | None,
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": TOKEN_PATTERN}, {"type": "null"}]}),
]


@dataclass(frozen=True)
class Binding:
    """Where a sealed value belongs: its token opens there and nowhere else."""

    subject: str  # the participant whose value it is
    field: str  # the value's name (the last segment of its path: `email`, `mentee_names`...)
    subsidiary: str  # the subsidiary of the event holding it

    def associated_data(self) -> bytes:
        # NUL never occurs in an id, a field's name or a slug: the parts cannot run together.
        return f"{TOKEN_VERSION}\0{self.subject}\0{self.field}\0{self.subsidiary}".encode()


class Keys(Protocol):
    """The participants' keys, as the functions below use them."""

    def seal(self, binding: Binding, value: Any) -> str | None:
        """A token of `value` under the subject's key, bound to `binding`; None if the subject is erased."""

    def unseal(self, token: str, binding: Binding) -> Any:
        """The value a token holds, if it was sealed for `binding`; None once its subject's
        key is destroyed, and None (counted as unopenable) if it does not open there."""

    def is_erased(self, subject: str) -> bool:
        """Whether the subject's key was destroyed."""


def token(subject: str, ciphertext: str) -> str:
    if ":" in subject:
        raise ValueError(f"a data subject id has no ':' ({subject!r})")
    return f"{TOKEN_PREFIX}{subject}:{ciphertext}"


def is_token(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("sealed:") and _TOKEN.match(value) is not None


def parse_token(value: str) -> tuple[int, str, str]:
    """(version, subject, ciphertext) of a token."""
    if not is_token(value):
        raise ValueError("not a sealed value")
    _, version, rest = value.split(":", 2)
    subject, ciphertext = rest.split(":", 1)
    return int(version), subject, ciphertext


def seal_fields(root: dict[str, Any], fields: PersonalFields, keys: Keys, subsidiary: str, *, pass_tokens: bool = False) -> None:
    """Replace every personal value under `root` by its token (in place). None stays None.
    Everything else is sealed, a value that looks like a token too (input is data); only with
    `pass_tokens` (a relay publishing what its own store sealed) does a token stay as it is."""
    for container, key, binding in bound_values(root, fields, subsidiary):
        value = container[key]
        if value is not None and not (pass_tokens and is_token(value)):
            container[key] = keys.seal(binding, value)


def open_fields(root: dict[str, Any], fields: PersonalFields, keys: Keys | None, subsidiary: str) -> None:
    """Replace every personal value under `root` by what it reads as now (in place): the
    plaintext, or None once erased or if it does not open there. A value in plaintext (stored
    or published before sealing began) reads as None too when its subject is erased. Without
    keys, nothing personal reads."""
    for container, key, binding in bound_values(root, fields, subsidiary):
        value = container[key]
        if value is None:
            continue
        if keys is None:
            container[key] = None
        elif is_token(value):
            container[key] = keys.unseal(value, binding)
        elif keys.is_erased(binding.subject):
            container[key] = None


def sealed_form_of(root: dict[str, Any], fields: PersonalFields) -> dict[str, Any]:
    """A copy of `root` with each personal value that is a token in its place replaced by
    None: the shape to validate a message against before anything in it is opened (a
    validation error then quotes no personal value)."""
    copied = copied_along(root, fields)
    for container, key, _ in personal_values(copied, fields):
        if is_token(container[key]):
            container[key] = None
    return copied


def has_personal_values(root: dict[str, Any], fields: PersonalFields) -> bool:
    return any(container[key] is not None for container, key, _ in personal_values(root, fields))


def bound_values(root: Any, fields: PersonalFields, subsidiary: str) -> Iterator[tuple[Any, Any, Binding]]:
    """(container, key, binding) of every personal value present under `root`."""
    for field, subject_path in fields.items():
        name = _name(field)
        for container, key, subject in personal_values(root, {field: subject_path}):
            yield container, key, Binding(subject, name, subsidiary)


@lru_cache(maxsize=1024)
def _name(field: str) -> str:
    """A value's name, as its binding says it: the last segment of its path."""
    return field.rsplit(".", 1)[-1].removesuffix("[]")


def personal_values(root: Any, fields: PersonalFields) -> Iterator[tuple[Any, Any, str]]:
    """(container, key, subject) of every personal value present under `root`."""
    for field, subject in fields.items():
        simple = _simple(field, subject)
        if simple is None:
            yield from _walk(root, *_split(field, subject))
            continue
        # The usual case, no list on either path: straight down (this runs for every event stored or sent).
        parents, key, owner_path = simple
        container = _at(root, parents)
        if isinstance(container, dict) and key in container:
            owner = _at(root, owner_path)
            if owner is None:
                raise ValueError(f"no data subject at {subject} for the personal value at {field}")
            yield container, key, str(owner)


def copied_along(root: dict[str, Any], fields: PersonalFields) -> dict[str, Any]:
    """A copy of `root` to seal or open in place: the dicts and lists on the way to a personal
    value are copied, everything else is shared with `root` (a deep copy of a whole event
    cost more than sealing it)."""
    return _copy(root, _trie(tuple(fields)))


@lru_cache(maxsize=1024)
def _simple(field: str, subject: str) -> tuple[tuple[str, ...], str, tuple[str, ...]] | None:
    if "[]" in field or "[]" in subject:
        return None
    *parents, key = field.split(".")
    return tuple(parents), key, tuple(subject.split("."))


@lru_cache(maxsize=1024)
def _trie(fields: tuple[str, ...]) -> dict[str, Any]:
    """The paths' segments as a tree: {segment: {next segment: ...}}, a value's own segment a leaf ({})."""
    trie: dict[str, Any] = {}
    for field in fields:
        node = trie
        for segment in field.split("."):
            node = node.setdefault(segment, {})
    return trie


def _copy(node: Any, trie: dict[str, Any]) -> Any:
    if not isinstance(node, dict):
        return node
    copied = dict(node)
    for segment, below in trie.items():
        name, many = _segment(segment)
        child = copied.get(name)
        if many and isinstance(child, list):
            copied[name] = [_copy(item, below) for item in child] if below else list(child)
        elif below and child is not None:
            copied[name] = _copy(child, below)
    return copied


@lru_cache(maxsize=1024)
def _split(field: str, subject: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(field.split(".")), tuple(subject.split("."))


def _walk(node: Any, field: tuple[str, ...], subject: tuple[str, ...]) -> Iterator[tuple[Any, Any, str]]:
    # Down the paths' common part together: the subject lives in the same item as its value.
    while len(field) > 1 and len(subject) > 1 and field[0] == subject[0]:
        name, many = _segment(field[0])
        child = _child(node, name)
        if child is None:
            return
        if many:
            for item in child:
                yield from _walk(item, field[1:], subject[1:])
            return
        node, field, subject = child, field[1:], subject[1:]
    if len(field) == len(subject) == 1 and field[0].endswith("[]") and subject[0].endswith("[]"):
        values, owners = _child(node, field[0][:-2]), _child(node, subject[0][:-2])
        for index, owner in enumerate(owners or []):
            if values is not None and index < len(values) and owner is not None:
                yield values, index, str(owner)
        return
    if not any(segment.endswith("[]") for segment in field):  # the usual case: no list on the way
        container = _at(node, field[:-1])
        if isinstance(container, dict) and field[-1] in container:
            yield container, field[-1], str(_owner(node, subject, field))
        return
    owner = None
    for container, key in _places(node, field):
        owner = _owner(node, subject, field) if owner is None else owner
        yield container, key, str(owner)


def _owner(node: Any, subject: tuple[str, ...], field: tuple[str, ...]) -> Any:
    owner = _at(node, subject)
    if owner is None:
        raise ValueError(f"no data subject at {'.'.join(subject)} for the personal value at {'.'.join(field)}")
    return owner


def _places(node: Any, field: tuple[str, ...]) -> Iterator[tuple[Any, Any]]:
    name, many = _segment(field[0])
    if len(field) == 1:
        if many:
            items = _child(node, name)
            yield from ((items, index) for index in range(len(items or [])))
        elif isinstance(node, dict) and name in node:
            yield node, name
        return
    child = _child(node, name)
    for item in (child or []) if many else ([child] if child is not None else []):
        yield from _places(item, field[1:])


def _at(node: Any, path: tuple[str, ...]) -> Any:
    for segment in path:
        node = _child(node, segment)
    return node


def _child(node: Any, name: str) -> Any:
    return node.get(name) if isinstance(node, dict) else None


def _segment(segment: str) -> tuple[str, bool]:
    return (segment[:-2], True) if segment.endswith("[]") else (segment, False)

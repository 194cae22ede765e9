"""The participants' keys are kept wrapped: each row of the key store holds its key
encrypted (AES-256-GCM) with a *wrapping key* that is not in the store, so a copy of
keys.db or of the key table (a backup, a stolen disk) opens nothing without it.

The participant's id is the associated data: a wrapped key copied onto another participant's
row does not unwrap. Each row names the wrapping key that wrapped it (`key_id`, a fingerprint,
not the key), so that rotation can re-wrap the rows still under an older one.

Where the wrapping keys come from (`WrappingKeySource`): ``TANDEM_KEYS_WRAPPING_KEY`` (base64
of 32 bytes), else the file ``TANDEM_KEYS_WRAPPING_KEY_FILE`` names (by default
``$TANDEM_HOME/keys-wrapping-key``), generated (0600) when it is absent and the store holds no
wrapped key yet. Either may list several keys, separated by commas or new lines: the first
wraps, the others are still accepted to unwrap (while rotating).
"""

import base64
import binascii
import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.common.files import private_dir

VALUE_SETTING = "TANDEM_KEYS_WRAPPING_KEY"
FILE_SETTING = "TANDEM_KEYS_WRAPPING_KEY_FILE"
DEFAULT_FILE_NAME = "keys-wrapping-key"
KEY_BYTES = 32
NONCE_BYTES = 12


class WrappingKeyError(RuntimeError):
    """The key store cannot be opened with the wrapping keys given (the message names the
    setting, never a key)."""


def new_wrapping_key() -> str:
    return base64.b64encode(AESGCM.generate_key(KEY_BYTES * 8)).decode()


def key_id(key: bytes) -> str:
    """A fingerprint naming the wrapping key in each row: it reveals nothing of the key."""
    return hashlib.sha256(b"tandem wrapping key id\0" + key).hexdigest()[:16]


@dataclass(frozen=True)
class WrappingKeys:
    """The wrapping keys given, the current one (which wraps) first."""

    keys: dict[str, AESGCM]  # key id -> cipher, in the order given
    origin: str  # the setting they came from, for messages

    @classmethod
    def parse(cls, text: str, origin: str) -> "WrappingKeys":
        keys: dict[str, AESGCM] = {}
        for item in text.replace(",", "\n").split():
            try:
                key = base64.b64decode(item, validate=True)
            except (binascii.Error, ValueError):
                key = b""
            if len(key) != KEY_BYTES:
                raise WrappingKeyError(f"{origin} must hold base64 keys of {KEY_BYTES} bytes (e.g. `openssl rand -base64 32`), one per line or comma-separated")
            keys.setdefault(key_id(key), AESGCM(key))
        if not keys:
            raise WrappingKeyError(f"{origin} holds no wrapping key")
        return cls(keys, origin)

    @property
    def current(self) -> str:
        return next(iter(self.keys))

    def wrap(self, subject: str, key: str) -> tuple[str, str]:
        """(the current key's id, the participant's key wrapped for this participant only)."""
        nonce = os.urandom(NONCE_BYTES)
        wrapped = nonce + self.keys[self.current].encrypt(nonce, key.encode(), _associated(subject))
        return self.current, base64.b64encode(wrapped).decode()

    def unwrap(self, subject: str, wrapping_key_id: str, wrapped: str) -> str:
        cipher = self.keys.get(wrapping_key_id)
        if cipher is None:
            raise WrappingKeyError(
                f"a participant key is wrapped with wrapping key {wrapping_key_id}, which {self.origin} does not hold: "
                "give every wrapping key in use (the new one first while rotating)"
            )
        raw = base64.b64decode(wrapped)
        try:
            return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _associated(subject)).decode()
        except InvalidTag:
            raise WrappingKeyError(f"the key of participant {subject} does not unwrap: its row was altered or copied from another participant") from None

    def check(self, subject: str, wrapping_key_id: str, wrapped: str, where: str) -> None:
        """Refuse to start on a store whose wrapped keys these keys cannot open."""
        try:
            self.unwrap(subject, wrapping_key_id, wrapped)
        except WrappingKeyError as exc:
            raise WrappingKeyError(f"{where}: {exc}") from None


def _associated(subject: str) -> bytes:
    return b"tandem participant key\0" + subject.encode()


@dataclass(frozen=True)
class WrappingKeySource:
    """Where the wrapping keys are: a setting's value, or a file."""

    value: str | None = None
    file: Path | None = None
    origin: str = VALUE_SETTING

    def load(self, store_holds_wrapped_keys: bool) -> WrappingKeys:
        if self.value is not None:
            return WrappingKeys.parse(self.value, self.origin)
        assert self.file is not None
        if not self.file.exists():
            if store_holds_wrapped_keys:
                raise WrappingKeyError(
                    f"the key store holds wrapped keys but the wrapping key file {self.file} ({self.origin}) is missing: "
                    f"restore it from its backup, or give the key in {VALUE_SETTING}"
                )
            _generate(self.file)
        return WrappingKeys.parse(_read(self.file), f"{self.origin} ({self.file})")


def wrapping_key_source(value: str | None, file: str | None, default_dir: Path) -> WrappingKeySource:
    if value:
        return WrappingKeySource(value=value, origin=VALUE_SETTING)
    if file:
        return WrappingKeySource(file=Path(file), origin=FILE_SETTING)
    return WrappingKeySource(file=default_dir / DEFAULT_FILE_NAME, origin=f"{FILE_SETTING} (by default in TANDEM_HOME)")


def _generate(path: Path) -> None:
    """Create the file (0600) with a new key; when processes race, the first one's stays."""
    private_dir(path.parent, tighten=False)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as f:
        f.write(new_wrapping_key() + "\n")


def _read(path: Path) -> str:
    for _ in range(100):  # another process may be between create and write
        text = path.read_text().strip()
        if text:
            return text
        time.sleep(0.01)
    return ""


def open_wrapping(source: WrappingKeySource | None, samples: list[tuple[str, str, str]], where: str) -> WrappingKeys | None:
    """The wrapping keys a store opens with, checked against one wrapped row per wrapping key
    id it holds (`samples`: participant id, wrapped key, wrapping key id): a store with
    wrapped keys is refused without the wrapping keys that open them."""
    if source is None:
        if samples:
            raise WrappingKeyError(f"{where} holds wrapped participant keys: give the wrapping key ({VALUE_SETTING} or {FILE_SETTING})")
        return None
    keys = source.load(store_holds_wrapped_keys=bool(samples))
    for subject, wrapped, wrapping_key_id in samples:
        keys.check(subject, wrapping_key_id, wrapped, where)
    return keys

"""Secrets at rest: bot and refresh tokens and webhook URLs, sealed with a key of the operator's.

The key (``DIGESTBOT_ENCRYPTION_KEY``) is any secret string of at least 32 characters; the
cipher keys are derived from it with HKDF-SHA256 (``cryptography``), one per use:

* :meth:`Sealer.seal` — Fernet (AES-128-CBC + HMAC-SHA256, random IV) for values only read
  back (Slack bot and refresh tokens): ``fernet:`` + token.
* :meth:`Sealer.seal_fixed` — AES-SIV, deterministic: the same URL always seals to the same
  text, so a Discord webhook URL can stay a lookup key (a channel's outbox queue, its send
  pacing, its subscription) while only equality shows: ``siv:`` + urlsafe base64.

:meth:`Sealer.open` reads both, and plain text written before a key was set. Rotation: start
with the new key in ``DIGESTBOT_ENCRYPTION_KEY`` and the old one in
``DIGESTBOT_ENCRYPTION_KEY_PREVIOUS``; values sealed with either open, and
:meth:`digests.store.Store.seal_secrets` (run by ``serve``'s start and the first command with
the new key set, :meth:`~digests.store.Store.seal_pending`) re-seals every row with the new key. Then drop the previous key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from digests.config.env import MIN_KEY_CHARS
from digests.config.settings import Settings
from digests.errors import ConfigError, KeyMissing

FERNET, SIV = "fernet:", "siv:"
# What a row sealed with a key not given needs (said after what the row is: "source 'x': ...").
MISSING_KEY = (
    "sealed with a key this process was not given: set that key as DIGESTBOT_ENCRYPTION_KEY "
    "(or, while rotating, as DIGESTBOT_ENCRYPTION_KEY_PREVIOUS)"
)
_SALT = b"digestbot secrets at rest"


def _derive(key: str, purpose: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=_SALT, info=purpose).derive(
        key.encode()
    )


def check_key(key: str, *, name: str = "DIGESTBOT_ENCRYPTION_KEY") -> str:
    """``key`` when it is long enough to derive cipher keys from, else a ConfigError."""
    if len(key) < MIN_KEY_CHARS:
        raise ConfigError(
            f"{name} must be at least {MIN_KEY_CHARS} characters (e.g. the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    return key


class _Queued(Protocol):
    @property
    def subscription(self) -> str | None: ...


def missing_key(what: str) -> str:
    """The line for a row no key given opens: ``what`` names it (redacted: a name, never the
    secret), e.g. "the webhook URL of subscription 'news'"."""
    return f"{what} is {MISSING_KEY}"


def sealed_channel(message: _Queued) -> str:
    """The line for an outbox part whose webhook URL no key given opens: it names the
    subscription (the part is retried: given the key, it goes)."""
    whose = f"subscription {message.subscription!r}" if message.subscription else "this part"
    return missing_key(f"the webhook URL of {whose}")


class Sealer:
    """Seals and opens secrets with the current key (and any previous ones, for rotation).

    ``Sealer()`` without keys is the pass-through used when no key is set: nothing is sealed
    and plain values open as themselves (sealed ones raise KeyMissing, a StoreError).
    """

    def __init__(self, key: str | None = None, previous: Sequence[str] = ()) -> None:
        keys = [check_key(key)] if key else []
        keys += [check_key(p, name="DIGESTBOT_ENCRYPTION_KEY_PREVIOUS") for p in previous if p]
        self.enabled = bool(key)
        self._keys = tuple(keys)
        self._fernet = (
            MultiFernet(
                [Fernet(base64.urlsafe_b64encode(_derive(k, b"fernet v1", 32))) for k in keys]
            )
            if keys
            else None
        )
        self._siv = [AESSIV(_derive(k, b"aes-siv v1", 64)) for k in keys]
        self._current = (
            Fernet(base64.urlsafe_b64encode(_derive(key, b"fernet v1", 32))) if key else None
        )

    @property
    def fingerprint(self) -> str:
        """Names the keys given (current first, then previous), never showing them: what the
        last full sealing pass ran with is stored under it (digests/store/sealed.py)."""
        ids = b"".join(_derive(k, b"key id v1", 16) for k in self._keys)
        return hashlib.sha256(ids).hexdigest()[:32]

    @classmethod
    def from_settings(cls, settings: Settings) -> Sealer:
        """The sealer for the keys in the core settings (none: the pass-through)."""
        keys = settings.encryption_keys
        return cls(keys[0], keys[1:]) if keys else cls()

    def stale(self, value: str | None, *, fixed: bool = False) -> bool:
        """Whether ``value`` should be sealed again: plain, or sealed with a previous key."""
        if value is None or not self.enabled:
            return False
        if fixed:
            return self.seal_fixed(self.open(value) or "") != value
        if not value.startswith(FERNET):
            return True
        assert self._current is not None
        try:
            self._current.decrypt(value[len(FERNET) :].encode())
        except InvalidToken:
            return True
        return False

    def seal(self, value: str | None) -> str | None:
        """``value`` encrypted (random IV) with the current key; as is without a key."""
        if value is None or not self.enabled or value.startswith((FERNET, SIV)):
            return value
        assert self._fernet is not None
        return FERNET + self._fernet.encrypt(value.encode()).decode()

    def seal_fixed(self, value: str) -> str:
        """``value`` encrypted deterministically (AES-SIV) with the current key."""
        if not self.enabled or value.startswith((FERNET, SIV)):
            return value
        return _siv_form(self._siv[0], value)

    def fixed_forms(self, value: str) -> list[str]:
        """Every form a row may hold ``value`` in: plain, and sealed deterministically with the
        current key and each previous one (until ``serve`` re-seals, mid-rotation, a row holds
        the previous key's): what a lookup by a sealed key matches."""
        if not self.enabled or value.startswith((FERNET, SIV)):
            return [value]
        return [value] + [_siv_form(siv, value) for siv in self._siv]

    def open(self, value: str | None) -> str | None:
        """The plain value of a sealed (or never sealed) ``value``."""
        if value is None or not value.startswith((FERNET, SIV)):
            return value
        try:
            if value.startswith(FERNET):
                if self._fernet is None:
                    raise InvalidToken
                return self._fernet.decrypt(value[len(FERNET) :].encode()).decode()
            data = value[len(SIV) :]
            raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
            for siv in self._siv:
                try:
                    return siv.decrypt(raw, None).decode()
                except InvalidTag:
                    continue
            raise InvalidToken
        except (InvalidToken, binascii.Error, ValueError) as exc:
            raise KeyMissing(f"a stored secret cannot be decrypted: it was {MISSING_KEY}") from exc

    def secret_channel(self, channel: str) -> bool:
        """A channel that is a URL (a Discord or Mattermost incoming webhook: whoever holds it
        can post) is a secret, stored sealed; a channel id (Slack's) is not."""
        return channel.startswith((SIV, "http://", "https://"))

    def reseal(self, value: str | None, *, fixed: bool = False) -> str | None:
        """``value`` sealed with the current key, whatever it was sealed with before."""
        if value is None or not self.enabled:
            return value
        plain = self.open(value)
        assert plain is not None
        return self.seal_fixed(plain) if fixed else self.seal(plain)


__all__ = [
    "FERNET",
    "MIN_KEY_CHARS",
    "MISSING_KEY",
    "SIV",
    "Sealer",
    "check_key",
    "missing_key",
    "sealed_channel",
]


def _siv_form(siv: AESSIV, value: str) -> str:
    """``value`` sealed deterministically with ``siv``, as a row holds it."""
    sealed = siv.encrypt(value.encode(), None)
    return SIV + base64.urlsafe_b64encode(sealed).decode().rstrip("=")

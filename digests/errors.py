"""The one error tree of digestbot.

    DigestError                      base: a short message a user can read
     ├── ConfigError                 a config file or setting is missing or invalid
     ├── InputError                  one input (file, feed, URL, command text) is unusable
     │    └── FetchError             fetching a URL failed or was refused
     │         └── BlockedURLError   the SSRF guard refused a URL
     ├── StoreError                  the database failed or is out of date
     │    ├── StoreUnavailable       a passing fault (locked, disk full, connection lost)
     │    └── LeaseLost              work held under a lease ran past it: its result is dropped
     └── DeliveryError               a chat platform refused or failed a message
          └── Unverifiable           whether a message arrived cannot be checked at all

Every error's ``str()`` is one line fit for a user; the cause is kept with ``raise ... from``.
Outside the tree, :class:`Stopped` is no failure: long work asked to stop (``serve`` shutting
down) leaves off there. :func:`invalid_json` is how every reader of JSON words a bad one.
"""

from __future__ import annotations

from json import JSONDecodeError


class DigestError(Exception):
    """Base class: a failure with a short, user-readable message."""


class ConfigError(DigestError):
    """A config file or setting is missing or invalid."""


class InputError(DigestError):
    """One input (a file, feed, URL or command text) cannot be used."""


def invalid_json(exc: ValueError | RecursionError, *, within_line: bool = False) -> str:
    """The one wording for a JSON input that does not parse, wherever it is read (extract,
    ingest, ``summarize --plain``), for every way ``json.loads`` fails on it:

    * a syntax error: ``invalid JSON (Expecting value: line 1 column 5)``, as Python's own
      message places it (some messages end in "at": ``Unterminated string starting at: …``);
      in a line of a JSON Lines file, whose number is already said, the column only;
    * nesting deeper than Python's recursion limit (``[[[[...``; RecursionError):
      ``invalid JSON (nested too deeply)``;
    * bytes that are not UTF-8 (UnicodeDecodeError): ``not UTF-8 text``;
    * an integer of more digits than ``sys.get_int_max_str_digits()`` (ValueError):
      ``invalid JSON (a number with too many digits)``.
    """
    if isinstance(exc, JSONDecodeError):
        where = f"column {exc.colno}" if within_line else f"line {exc.lineno} column {exc.colno}"
        return f"invalid JSON ({exc.msg}: {where})"
    if isinstance(exc, RecursionError):
        return "invalid JSON (nested too deeply)"
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    return "invalid JSON (a number with too many digits)"


class FetchError(InputError):
    """Fetching a URL failed or was refused.

    ``status`` is the HTTP status that failed it, if an answer came; ``retryable`` says the
    same URL may well work later (5xx, 429, 408, a timeout, a connection refused or cut),
    where a 404, a refusal or a body over the cap would fail the same way again.
    """

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable

    def reworded(self, message: str) -> FetchError:
        """The same failure (its class, status and retryability) said as ``message``."""
        return type(self)(message, status=self.status, retryable=self.retryable)


class BlockedURLError(FetchError):
    """The SSRF guard refused a URL (scheme or address not allowed)."""


class StoreError(DigestError):
    """The database failed or its schema is out of date."""


class KeyMissing(StoreError):
    """A stored secret (a source's URL, a webhook URL, a token) was sealed with a key this
    process was not given: that row alone cannot be used (digests/sealing.py)."""


class StoreUnavailable(StoreError):
    """The database could not be written or reached just now (locked, disk full, connection
    lost, server down): nothing is wrong with the data, so the work is retried later and is
    never remembered as the input's failure."""


class LeaseLost(StoreError):
    """Work one process at a time does (a topic fit: digests/store/locks.py) lost its lease
    before it was done (not renewed in time: the database out of reach, the process stalled),
    so another process may be doing it: nothing more of this one's is written."""


class DeliveryError(DigestError):
    """A chat platform refused or failed to take a message."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable or outcome_unknown
        self.retry_after = retry_after  # seconds the platform asked us to wait (429)
        # The message may have arrived (timeout, reset, 5xx after the request left): check
        # the channel before sending it again, never resend blindly.
        self.outcome_unknown = outcome_unknown


class Unverifiable(DeliveryError):
    """Raised by a sender's ``find_sent``: this channel offers no way to check whether a
    message arrived (a webhook that cannot list its posts, and no bot token to read the
    channel). Waiting would not tell either: the message is sent again, and may appear
    twice. The text says what would make it checkable."""


class Stopped(Exception):  # not an error: the work was asked to stop
    """Long work (an ingest) left off between batches because its process is stopping: what
    was stored is kept, the rest is read again next time. Never an input's failure."""

"""The one duration syntax of the command line: ``90s``, ``15m``, ``2h``, ``7d``, ``2w``.

``digestbot sources add --every`` (how often to poll) and ``digestbot digest --since``
(how far back) both read it.
"""

from __future__ import annotations

import re
from datetime import timedelta

from digests.errors import InputError

_DURATION = re.compile(r"([0-9]{1,9})\s*([smhdw]?)")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: str, *, option: str, bare: str | None = None) -> timedelta:
    """``value`` (a whole number and a unit: s, m, h, d or w) as a timedelta.

    ``bare``: the unit of a number written without one (None: a unit is required).
    ``option`` names the flag in the one-line error, e.g. ``--every``.
    """
    m = _DURATION.fullmatch(value.strip().lower())
    unit = m.group(2) or bare if m else None
    if m is None or unit is None:
        raise InputError(
            f"{option} {value!r}: use a whole number with s, m, h, d or w (e.g. 15m, 24h, 7d)"
        )
    try:
        return timedelta(seconds=int(m.group(1)) * _SECONDS[unit])
    except OverflowError as exc:
        raise InputError(f"{option} {value!r} is too long") from exc


def format_duration(seconds: int | None) -> str:
    """``seconds`` in the same syntax, in the largest whole unit (``90s``, ``15m``, ``2h``);
    "" for none."""
    if not seconds:
        return ""
    for unit in ("d", "h", "m"):  # (a week stays 7d, as --every says it)
        if seconds % _SECONDS[unit] == 0:
            return f"{seconds // _SECONDS[unit]}{unit}"
    return f"{seconds}s"

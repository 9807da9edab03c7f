"""Publication dates as pages print them, parsed to timezone-aware UTC datetimes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import PurePath
from urllib.parse import urlsplit

_MONTHS = {
    name: i
    for i, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = (
    r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_TIME = (
    r"(?:(?:,|\s+at|\s*\|)?\s*(?P<h>\d{1,2}):(?P<mi>\d{2})(?::\d{2})?\s*(?P<ampm>[ap]\.?m\.?)?"
    r"\s*(?P<tz>utc|gmt|z|[+-]\d{2}:?\d{2})?)?"
)
_PATTERNS = [
    # 2019-11-20T12:03:00+00:00, 2019-11-20 12:03, 2019-11-20
    re.compile(
        r"\b(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})(?:[T ](?P<h>\d{2}):(?P<mi>\d{2})(?::\d{2}"
        r"(?:\.\d+)?)?(?P<tz>z|[+-]\d{2}:?\d{2})?)?",
        re.I,
    ),
    # 25 Jun 2023 23:29, 09 February 2026 10:21
    re.compile(rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+{_MONTH}\s+(?P<y>\d{{4}})\b{_TIME}", re.I),
    # Nov. 20, 2019, 9:28 AM UTC; November 18, 2019 12:26 PM; September 10, 2018
    re.compile(rf"\b{_MONTH}\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>\d{{4}})\b{_TIME}", re.I),
]


def parse_date(text: str) -> datetime | None:
    """The first date in ``text`` as an aware UTC datetime (UTC assumed when unstated)."""
    for pattern in _PATTERNS:
        match = pattern.search(text)
        if match:
            parsed = _build(match.groupdict())
            if parsed is not None:
                return parsed
    return None


# A date in a file name or URL path: 2024-05-01-title.md (Jekyll's convention), /2024/05/01/slug,
# APW19981023.0569 (newswire archives): year, month and day, alone or with - _ / . between them.
_IN_LOCATOR = re.compile(
    r"(?<!\d)(?P<y>(?:19|20)\d\d)(?P<sep>[-_/.]?)(?P<m>0[1-9]|1[0-2])(?P=sep)"
    r"(?P<d>0[1-9]|[12]\d|3[01])(?!\d)"
)


def date_in_locator(locator: str) -> datetime | None:
    """The date a file's name or a URL's path carries, for a document that states none.

    Of a file, only its name counts (not the folders it is in); of a URL, its whole path, the
    last date in it winning. An impossible date (2023-02-30) is none.
    """
    path = urlsplit(locator).path if "://" in locator else PurePath(locator).name
    for match in reversed(list(_IN_LOCATOR.finditer(path))):
        found = _build({"y": match["y"], "m": match["m"], "d": match["d"]})
        if found is not None:
            return found
    return None


def coerce_date(value: object) -> datetime | None:
    """A hint's date (datetime or string) as an aware UTC datetime."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, str):
        try:
            return coerce_date(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
        except ValueError:
            return parse_date(value)
    return None


def _build(g: dict[str, str | None]) -> datetime | None:
    try:
        month = int(g["m"] or 0) if g.get("m") else _MONTHS[(g["mon"] or "").lower().rstrip(".")]
        hour = int(g["h"] or 0) if g.get("h") else 0
        minute = int(g["mi"] or 0) if g.get("mi") else 0
        ampm = (g.get("ampm") or "").lower().replace(".", "")
        if ampm == "pm" and hour < 12:
            hour += 12
        elif ampm == "am" and hour == 12:
            hour = 0
        value = datetime(int(g["y"] or 0), month, int(g["d"] or 0), hour, minute, tzinfo=UTC)
    except (KeyError, ValueError):
        return None
    tz = (g.get("tz") or "").lower()
    if tz[:1] in "+-" and tz:
        digits = tz[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4]))
        value -= offset if tz[0] == "+" else -offset
    if not 1990 <= value.year <= 2100:
        return None
    return value

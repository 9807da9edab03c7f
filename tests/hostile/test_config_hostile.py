"""Config files that hit tomllib's own limits: one line naming the file, never a bare error."""

from __future__ import annotations

from pathlib import Path

import pytest

from digests.config import load_settings
from digests.errors import ConfigError


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        (
            "digestbot.toml",
            "x = " + "[" * 100_000 + "]" * 100_000,
            "arrays or tables nested too deeply",
        ),
        (
            "topics.toml",
            "x = " + "{a=" * 5_000 + "1" + "}" * 5_000,
            "arrays or tables nested too deeply",
        ),
        ("digestbot.toml", "max_file_bytes = " + "9" * 5_000, "a number with too many digits"),
    ],
    ids=["deep-arrays", "deep-inline-tables", "huge-integer"],
)
def test_a_config_file_tomllib_cannot_hold_is_named_in_one_line(
    config_dir: Path, name: str, text: str, reason: str
) -> None:
    # Before: "error: RecursionError: maximum recursion depth exceeded" and "error: ValueError:
    # Exceeds the limit (4300 digits) ... use sys.set_int_max_str_digits()": no file named.
    (config_dir / name).write_text(text + "\n")
    with pytest.raises(ConfigError) as caught:
        load_settings({}, config_dir)
    assert str(caught.value) == f"{config_dir / name}: {reason}"

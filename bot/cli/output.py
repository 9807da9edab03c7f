"""Everything the CLI prints goes through here: markup escaped, control characters removed.

Text from articles, feeds, URLs and error messages is untrusted: a title containing ``[/x]``
would break rich markup, and an ESC sequence in a feed's author could clear the screen or
hide a link. Two rules, applied in one place:

* :func:`safe` escapes a value for use inside one of *our* markup templates;
* :class:`SafeConsole` strips control characters from every segment it writes (after rich
  has rendered, so our own colours survive and nothing from the data can add its own).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.segment import Segment
from rich.table import Table

from digests.controls import CONTROL, strip_controls

if TYPE_CHECKING:
    from rich.console import ConsoleOptions, RenderableType, RenderResult


def clean(text: object) -> str:
    """``text`` as a string without terminal control characters (tab and newline kept)."""
    return strip_controls(str(text))


def safe(text: object) -> str:
    """``text`` cleaned and escaped, to be placed inside a rich markup template."""
    return escape(clean(text))


def one_line(text: object) -> str:
    """``text`` cleaned and collapsed onto a single line."""
    return " ".join(clean(text).split())


def json_line(record: object) -> str:
    """``record`` as one JSON line; every control character escaped (JSON keeps C1 raw)."""
    text = json.dumps(record, ensure_ascii=False)
    return CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class _Cleaned:
    """A renderable that renders ``inner`` with control characters removed from its text."""

    def __init__(self, inner: RenderableType) -> None:
        self.inner = inner

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for segment in console.render(self.inner, options):
            if segment.control:  # rich's own cursor moves, never data
                yield segment
            else:
                yield Segment(clean(segment.text), segment.style)


class SafeConsole(Console):
    """A rich Console whose output never carries control characters from the data.

    Strings passed to :meth:`print` are *our* markup templates: put data in them with
    :func:`safe` (or pass a ``rich.text.Text``, which is never parsed as markup).
    """

    def print(self, *objects: Any, **kwargs: Any) -> None:  # noqa: D102
        try:
            self._print(*objects, **kwargs)
        except BrokenPipeError:  # a rich that does not catch it itself
            self.on_broken_pipe()

    def on_broken_pipe(self) -> None:
        """The reader went away (`digestbot extract FOLDER | head -1`): it has all it wanted.

        On stdout: stop now, quietly, exit 0 (as `articles | head` does; rich's own way is
        exit 1 without a word). On stderr: write no more there and carry on.
        """
        self.quiet = True
        if self.stderr:
            return
        stdout_gone()
        raise SystemExit(0)

    def _print(self, *objects: Any, **kwargs: Any) -> None:
        rendered = [_Cleaned(self._renderable(o, kwargs)) for o in objects]
        tables = [o for o in objects if isinstance(o, Table)]
        if self.is_terminal or not tables or "width" in kwargs:
            super().print(*rendered, **kwargs)
            return
        # Piped or redirected: a table is as wide as its content, never cut to 80 columns
        # with "…" (a name printed there is what `sources remove` needs).
        unbounded = self.options.update_width(1_000_000)
        widest = max(self.measure(t, options=unbounded).maximum for t in tables)
        if widest <= self.width:
            super().print(*rendered, **kwargs)
            return
        before = self.width
        self.width = widest
        try:
            super().print(*rendered, **kwargs)
        finally:
            self.width = before

    def _renderable(self, obj: Any, kwargs: dict[str, Any]) -> RenderableType:
        if isinstance(obj, str):
            return self.render_str(
                obj,
                markup=kwargs.get("markup"),
                highlight=kwargs.get("highlight"),
                emoji=kwargs.get("emoji"),
            )
        return obj

    def lines(self, texts: Iterable[str]) -> None:
        """Print plain (unparsed) lines."""
        for text in texts:
            self.print(clean(text), markup=False, highlight=False)


def stdout_gone() -> None:
    """Point stdout at the null device: nothing more written to it (nor the flush at exit)
    fails on a reader that went away."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a file descriptor (a test's capture)
        sys.stdout = None  # print() then writes nothing
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


out = SafeConsole(soft_wrap=True)
err = SafeConsole(stderr=True, soft_wrap=True, highlight=False)  # one error, one line


def error_line(message: object) -> None:
    """Print ``error: <message>`` on one line to stderr (URL secrets redacted)."""
    from digests.net.util import redact

    err.print(f"[red]error:[/] {safe(redact(one_line(message)))}")


def warning_line(message: object) -> None:
    """Print ``warning: <message>`` on one line to stderr (URL secrets redacted)."""
    from digests.net.util import redact

    err.print(f"[yellow]warning:[/] {safe(redact(one_line(message)))}")


def warn(label: str, locator: object, reason: object) -> None:
    """``skipped <locator>: <reason>`` on stderr (label is ours, the rest is data; a URL's
    password, secret query values and webhook token are redacted, as everywhere). A reason
    that starts with the locator (extraction's errors name their input) says it once."""
    from digests.net.util import redact

    why = str(reason).removeprefix(f"{locator}: ")
    err.print(f"[yellow]{label}[/] {safe(redact(str(locator)))}: {safe(redact(one_line(why)))}")

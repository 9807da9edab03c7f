"""The `digestbot` command line: options wired to the use cases, one module per command group.

Commands are registered from one place (:data:`COMMAND_MODULES`); each module keeps its heavy
imports inside the command functions, so ``digestbot --help`` and the terminal commands load
neither the Slack, Discord nor web stack. :func:`main` turns every failure into one line on
stderr: exit 1 for errors, 2 for usage errors, a traceback only with ``--verbose``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import typer

from bot.cli import brief, digest, export, files, ingest, serve, sources, status
from bot.cli._app import app, state
from bot.cli.options import parse_since
from bot.cli.output import err, error_line

COMMAND_MODULES = (ingest, digest, brief, sources, files, serve, status, export)
for _module in COMMAND_MODULES:
    _module.register(app)

log = logging.getLogger("digestbot")

__all__ = ["app", "main", "parse_since", "state"]


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: run the app; every failure is one line and a non-zero exit."""
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = any(a in {"-v", "--verbose"} for a in args)
    try:
        code = app(args=args, prog_name="digestbot", standalone_mode=False)
        if code == 130:  # Typer turns Ctrl-C into exit code 130 without a word: say it
            error_line("interrupted")
    except typer.Abort:
        error_line("aborted")
        code = 130
    except KeyboardInterrupt:
        error_line("interrupted")
        code = 130
    except Exception as exc:
        code = _failure(exc, verbose=verbose)
    sys.exit(code if isinstance(code, int) else 0)


def _failure(exc: Exception, *, verbose: bool) -> int:
    """Report ``exc`` on one line; the exit code (2 for usage errors)."""
    from digests.errors import DigestError

    if type(exc).__name__ == "NoArgsIsHelpError":  # bare `digestbot` or a bare group: the help
        ctx = getattr(exc, "ctx", None)
        err.print(ctx.get_help() if ctx is not None else str(exc), markup=False)
        return 2
    if _is_click_error(exc):  # usage errors (2), unreadable file arguments (1), ...
        message = _bad_value(exc) or exc.format_message()  # type: ignore[attr-defined]
        ctx = getattr(exc, "ctx", None)
        code = int(getattr(exc, "exit_code", 1))
        if code == 2 and ctx is not None:
            message += f" (see `{ctx.command_path} --help`)"
        error_line(message)
        return code
    if verbose:
        log.error("failed", exc_info=exc)
    if isinstance(exc, DigestError):
        error_line(exc)
    else:  # a bug or an unexpected library failure: still one line, the type says which
        hint = "" if verbose else " (run with -v for details)"
        error_line(f"{type(exc).__name__}: {exc}{hint}")
    return 1


def _bad_value(exc: Exception) -> str | None:
    """An option value Typer refused through pydantic, said plainly (pydantic's wording —
    "Value error, 'xml' is not one of 'jsonl', 'text'." — is not the user's concern):
    ``--format must be one of jsonl, text (got 'xml')``; None for any other error."""
    param, cause = getattr(exc, "param", None), exc.__cause__
    errors = getattr(cause, "errors", None)
    if param is None or type(cause).__name__ != "ValidationError" or not callable(errors):
        return None
    first = errors()[0]
    name = max(getattr(param, "opts", None) or [], key=len, default=None)
    name = name or str(param.human_readable_name)
    got = f"(got {first.get('input')!r})"
    choices = getattr(getattr(param, "type_descriptor", None), "choices", None)
    if choices:
        return f"{name} must be one of {', '.join(map(str, choices))} {got}"
    # "Input should be a valid integer, unable to parse string as an integer": its first clause
    msg = str(first["msg"]).removeprefix("Value error, ").split(", ")[0].rstrip(".")
    if msg.startswith("Input should be "):
        return f"{name} must be {msg.removeprefix('Input should be ')} {got}"
    return f"{name}: {msg[:1].lower()}{msg[1:]} {got}"


def _is_click_error(exc: Exception) -> bool:
    # Typer vendors click in recent releases, so match the class by name, not identity.
    return any(c.__name__ == "ClickException" for c in type(exc).__mro__)


if __name__ == "__main__":
    main()

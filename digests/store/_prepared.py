"""Hot statements on the driver: a Core statement compiled once per dialect, run without
SQLAlchemy's per-execution work.

Story assignment runs a few statements for every ingested article. Through
``Connection.execute`` each one pays for a cache lookup, an execution context and a bind or
result processor call per value; on SQLite that was more than the database's own work (a
candidate query's 18 rows took 0.12 ms in SQLite and 0.40 ms in all, docs/BENCHMARKS.md).
:class:`Prepared` keeps the statement in Core, compiles it once per dialect, converts the
parameters with the column types' own bind processors (a datetime or JSON value is written
exactly as Core writes it) and runs it with ``exec_driver_sql``. Rows come back as the driver
gives them: read datetimes with :func:`read_datetime`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ClauseElement, Connection, CursorResult
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler


@dataclass(frozen=True, slots=True)
class _Form:
    sql: str
    names: tuple[str, ...] | None  # positional parameters in order; None: by name
    defaults: dict[str, Any]  # values bound in the statement itself (a LIMIT); the rest: given
    convert: dict[str, Callable[[Any], Any]]  # bind processors of the typed parameters


class Prepared:
    """``statement``, compiled on first use with each dialect (see the module docstring)."""

    def __init__(self, statement: ClauseElement) -> None:
        self._statement = statement
        self._forms: dict[tuple[Any, ...], _Form] = {}

    def execute(
        self, conn: Connection, params: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> CursorResult[Any]:
        """Run with one set of parameters, or with each of a list (an executemany)."""
        form = self._form(conn.dialect)
        if isinstance(params, Mapping):
            return conn.exec_driver_sql(form.sql, _bound(form, params, {}))
        memo: dict[tuple[str, datetime, timedelta | None], Any] = {}  # rows share their times
        return conn.exec_driver_sql(form.sql, [_bound(form, p, memo) for p in params])

    def _form(self, dialect: Dialect) -> _Form:
        # What the compiled text depends on: the database, the driver's parameter style and
        # what the server supports (RETURNING, ...).
        key = (dialect.name, dialect.driver, dialect.paramstyle, dialect.server_version_info)
        form = self._forms.get(key)
        if form is None:
            compiled = cast(SQLCompiler, self._statement.compile(dialect=dialect))
            convert: dict[str, Callable[[Any], Any]] = {}
            for name, bind in compiled.binds.items():
                processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if processor is not None:
                    convert[name] = processor
            names = tuple(compiled.positiontup or ()) if compiled.positional else None
            defaults = {k: v for k, v in compiled.params.items() if v is not None}
            form = _Form(str(compiled), names, defaults, convert)
            self._forms[key] = form
        return form


def _bound(
    form: _Form, params: Mapping[str, Any], memo: dict[tuple[str, datetime, timedelta | None], Any]
) -> tuple[Any, ...] | dict[str, Any]:
    values = {**form.defaults, **params} if form.defaults else dict(params)
    for key, convert in form.convert.items():
        if key not in values:
            continue
        value = values[key]
        if isinstance(value, datetime):  # SQLite's conversion costs more than its insert
            seen = (key, value, value.utcoffset())  # equal instants, other offsets: other text
            if seen not in memo:
                memo[seen] = convert(value)
            values[key] = memo[seen]
        else:
            values[key] = convert(value)
    return tuple(values[n] for n in form.names) if form.names is not None else values


def read_datetime(value: datetime | str) -> datetime:
    """A datetime column as the driver returns it (SQLite: the text Core wrote)."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value

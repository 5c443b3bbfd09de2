"""Statements built once and run without the ORM's per-call work.

The reads every page makes and the writes every click makes are Core
statements written once, at module level. ``run`` compiles each one once per
database (and per length of its ``IN`` lists), then runs it straight on the
driver's cursor of the session's connection, inside the session's
transaction: SQLAlchemy still writes the SQL, binds and converts the values
(dates on SQLite, for example), but the per-call work of its execution layer
is done once instead of on every request.

Like ``session.execute``, a run flushes the session's pending changes first,
and driver errors come out as SQLAlchemy's own exceptions. Listeners of
``before_cursor_execute`` on the engine see every statement (with no
execution context, and their return value is not used); the other execution
events are not fired. Writes are recorded for ``begin_write``.

A prepared statement takes plain parameter names, and lists (or tuples) for
its expanding ``IN``."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from typing import Any

from sqlalchemy import exc
from sqlalchemy.orm import Session
from sqlalchemy.orm import configure_mappers
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlalchemy.orm.util import identity_key

from citoyen.transactions import WROTE

_CURSOR = "citoyen_sql_cursor"
_CONSTANT = object()
_DEFAULT = object()


class _Form:
    """A statement as compiled for one database and one set of list lengths:
    the SQL, how to take each driver parameter from the caller's ones, and,
    once it has run, the converters of the result's columns."""

    __slots__ = ("sql", "sources", "positional", "row", "converters")

    def __init__(self, statement, dialect, params: dict) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(params))  # an INSERT's columns
        if compiled.escaped_bind_names or compiled.literal_execute_params:
            # Their values would be looked up under other names, or written into the kept SQL.
            raise ValueError("A prepared statement takes plain parameter names and no literal_execute.")
        state = compiled.construct_expanded_state(params)
        expanded = {name: (original, index) for original, names in state.parameter_expansion.items()
                    for index, name in enumerate(names)}
        names = state.positiontup if compiled.positional else list(state.parameters)
        # Columns whose Python-side default (or onupdate) fills a value the caller left out.
        defaults = {**{column.key: column.onupdate for column in compiled.update_prefetch},
                    **{column.key: column.default for column in compiled.insert_prefetch}}
        self.sources = []
        for name in names:
            bind = compiled.binds.get(expanded[name][0] if name in expanded else name)
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect) if bind is not None else None
            if name in defaults and name not in params:
                default = defaults[name]
                if default.is_callable:
                    self.sources.append((name, _DEFAULT, default.arg, processor))
                else:
                    self.sources.append((name, _CONSTANT, processor(default.arg) if processor else default.arg, None))
            elif name in expanded and expanded[name][0] in params:
                self.sources.append((name, expanded[name][0], expanded[name][1], processor))
            elif name in params:
                self.sources.append((name, name, None, processor))
            else:  # a value (or a list's item) written in the statement itself
                value = state.parameters[name]
                self.sources.append((name, _CONSTANT, processor(value) if processor else value, None))
        self.sql = state.statement
        self.positional = compiled.positional
        columns = list(statement.exported_columns)
        self.row = namedtuple("Row", [c.key for c in columns], rename=True) if columns else None
        self.converters: list | None = None

    def parameters(self, params: dict):
        values = []
        for _name, source, index, processor in self.sources:
            if source is _CONSTANT:
                values.append(index)
                continue
            if source is _DEFAULT:  # index: the default's function
                value = index(None)
                values.append(processor(value) if processor is not None else value)
                continue
            value = params[source] if index is None else params[source][index]
            values.append(processor(value) if processor is not None else value)
        if self.positional:
            return tuple(values)
        return {source[0]: value for source, value in zip(self.sources, values, strict=True)}


class Result:
    """What ``run`` returns: the rows (named tuples) and the row count."""

    __slots__ = ("rows", "rowcount")

    def __init__(self, rows: list, rowcount: int) -> None:
        self.rows = rows
        self.rowcount = rowcount

    def all(self) -> list:
        return self.rows

    def first(self):
        return self.rows[0] if self.rows else None

    def scalar_one(self):
        if len(self.rows) != 1:
            raise exc.NoResultFound("No row.") if not self.rows else exc.MultipleResultsFound("More than one row.")
        return self.rows[0][0]

    def scalars(self) -> list:
        return [row[0] for row in self.rows]


class Prepared:
    """A Core statement built once, with its compiled forms."""

    __slots__ = ("statement", "writes", "_forms")

    def __init__(self, statement) -> None:
        self.statement = statement
        self.writes = bool(statement.is_dml)  # an INSERT, UPDATE or DELETE
        self._forms: dict[tuple, _Form] = {}

    def form(self, dialect, params: dict) -> _Form:
        for value in params.values():
            if isinstance(value, set | frozenset | range | dict):
                raise TypeError("The items of an IN list go in a list or a tuple.")
        lengths = tuple(len(v) for v in params.values() if isinstance(v, list | tuple))
        key = (dialect.name, tuple(params), lengths)
        found = self._forms.get(key)
        if found is None:
            found = self._forms[key] = _Form(self.statement, dialect, params)
        return found


def _cursor(session: Session):
    """The driver's cursor of the session's connection, for its current
    transaction (opened if there is none, as ``session.connection()`` would)."""
    transaction = session.get_transaction()
    kept = session.info.get(_CURSOR)
    if transaction is None or kept is None or kept[0] is not transaction:
        connection = session.connection()
        kept = session.info[_CURSOR] = (session.get_transaction(), connection,
                                        connection.connection.driver_connection.cursor())
    return kept[1], kept[2]


def run(session: Session, statement: Prepared, params: dict | None = None) -> Result:
    """Run ``statement`` (a ``Prepared``) with ``params`` in the session's
    transaction. Lists in ``params`` fill the statement's expanding ``IN``."""
    params = params or {}
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()  # as session.execute would: the statement sees the pending changes
    if statement.writes:
        session.info[WROTE] = True  # begin_write keeps this transaction's writes
    connection, cursor = _cursor(session)
    dialect = connection.dialect
    form = statement.form(dialect, params)
    values = form.parameters(params)
    listeners = connection.dispatch.before_cursor_execute
    if listeners:
        for listener in listeners:
            listener(connection, cursor, form.sql, values, None, False)
    try:
        cursor.execute(form.sql, values)
        raw = cursor.fetchall() if cursor.description is not None else []
    except dialect.loaded_dbapi.Error as error:
        raise exc.DBAPIError.instance(form.sql, values, error, dialect.loaded_dbapi.Error,
                                      dialect=dialect) from error
    rows = raw
    if form.row is not None:
        if form.converters is None:
            form.converters = _converters(statement.statement, dialect, cursor.description)
        make = form.row._make
        if form.converters:
            rows = []
            for row in raw:
                values = list(row)
                for index, convert in form.converters:
                    if values[index] is not None:
                        values[index] = convert(values[index])
                rows.append(make(values))
        else:
            rows = list(map(make, raw))
    return Result(rows, cursor.rowcount)


def _converters(statement, dialect, description: Sequence) -> list[tuple[int, Any]]:
    """(index, converter) of the result's columns that need one."""
    found = [column.type.dialect_impl(dialect).result_processor(dialect, described[1])
             for column, described in zip(statement.exported_columns, description, strict=True)]
    return [(index, convert) for index, convert in enumerate(found) if convert is not None]


def attach(session: Session, model, row):
    """The ORM instance of ``model`` for ``row`` (read with ``run``: every
    column of its table, under the attributes' names; or these values as a
    dictionary), in the session as if the ORM had loaded it: later changes
    are tracked and flushed as usual, relationships load on first use. The
    instance already in the session, if there is one, wins."""
    values = row if isinstance(row, dict) else row._asdict()
    if len(session.identity_map):  # a request's first read finds it empty
        found = session.identity_map.get(identity_key(model, values["id"]))
        if found is not None:
            return found
    # As the ORM's loading does: the values go straight into the instance's
    # dictionary, then all of them count as loaded (no change to flush).
    if not model.__mapper__.configured:  # the process's first ORM use (done by any query or constructor)
        configure_mappers()
    instance = manager_of_class(model).new_instance()
    instance.__dict__.update(values)
    make_transient_to_detached(instance)
    session.add(instance)
    return instance

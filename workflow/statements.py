"""Hot statements, written once per database.

A few queries run on every request or nearly: the session, the signed-in user with
their memberships, the unread count of the shell. Building them through the ORM
cost more than running them (about 0.5 ms of CPU each on the load test's machine,
BENCHMARKS.md); here their SQL is written once per database, with the tables' and
columns' names taken from the models, and run with the request's values.
"""

import contextlib
import re
from collections.abc import Callable

from django.core.exceptions import EmptyResultSet
from django.db import connections, router
from django.db.models import CharField, Expression

_BUILT: dict[tuple[str, str], object] = {}


def columns(model, connection) -> dict[str, str]:
    """The model's concrete fields' quoted columns, by field name."""
    quote = connection.ops.quote_name
    return {field.name: quote(field.column) for field in model._meta.concrete_fields}


def table(model, connection) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def prepared(key: str, model, build: Callable) -> tuple:
    """(connection, what `build(connection)` made): the connection `model` is read
    from, and `build`'s result, made the first time for that database and kept."""
    connection = connections[router.db_for_read(model)]
    built = _BUILT.get((key, connection.alias))
    if built is None:
        built = _BUILT[(key, connection.alias)] = build(connection)
    return connection, built


def one_of(connection, values: list) -> tuple[str, list]:
    """The end of a condition "column is one of `values`" (not empty) and its
    parameters: on PostgreSQL `= ANY(%s)` with the values as one array, one
    statement whatever their number, prepared once (an IN list of 1 to 50
    values was 50 statements, each planned again); elsewhere an IN list."""
    if connection.vendor == "postgresql":
        return " = ANY(%s)", [list(values)]
    return f" IN ({', '.join(['%s'] * len(values))})", list(values)


class Constant(Expression):
    """A text written into the SQL as a literal, not sent as a parameter: for a
    constant of the code (a status), never for what a user typed. A statement
    prepared once and planned for any parameters (workflow/env.py) then still
    knows it, and how few rows have it."""

    output_field = CharField()

    def __init__(self, value: str):
        if not _CONSTANT.fullmatch(value):
            raise ValueError(f"not a constant of the code: {value!r}")
        super().__init__()
        self.value = value

    def __repr__(self) -> str:
        return f"Constant({self.value!r})"

    def as_sql(self, compiler, connection):
        return f"'{self.value}'", []


_CONSTANT = re.compile(r"[A-Za-z0-9_./-]{1,100}")


class Reader:
    """Model instances from raw rows, each value converted as the ORM would
    (SQLite gives naive datetimes, for instance). The converters are found once
    per database; they read settings, not the connection they are bound to."""

    def __init__(self, model, connection):
        self.model, self.alias = model, connection.alias
        fields = model._meta.concrete_fields
        self.names = [field.attname for field in fields]
        self.converters = []
        for index, field in enumerate(fields):
            column = field.get_col(model._meta.db_table)
            found = connection.ops.get_db_converters(column) + field.get_db_converters(
                connection
            )
            if found:
                self.converters.append((index, column, found))

    def __len__(self) -> int:
        return len(self.names)

    def instance(self, values, connection):
        if self.converters:
            values = converted(values, self.converters, connection)
        return self.model.from_db(self.alias, self.names, values)


def converted(values, converters, connection) -> list:
    """`values` (a row) with each (index, expression, converters) of
    `converters` applied, as the ORM converts what the database gives."""
    values = list(values)
    for index, expression, found in converters:
        value = values[index]
        for converter in found:
            value = converter(value, expression, connection)
        values[index] = value
    return values


# --- Querysets compiled once per user's conditions -----------------------------

# Compiled querysets kept per worker: the conditions of a thousand users.
COMPILED_MAX = 1024
_COMPILED: dict[tuple, "_Compiled"] = {}


class _Compiled:
    """A values_list queryset's SQL, parameters and value converters."""

    __slots__ = ("converters", "params", "sql")

    def __init__(self, queryset, connection):
        compiler = queryset.query.get_compiler(connection=connection)
        try:
            self.sql, self.params = compiler.as_sql()
        except EmptyResultSet:  # a condition nothing meets (`IN ()`)
            self.sql, self.params, self.converters = None, (), ()
            return
        fields = [selected[0] for selected in compiler.select[: compiler.col_count]]
        self.converters = tuple(
            (index, expression, tuple(found))
            for index, (found, expression) in compiler.get_converters(fields).items()
        )

    def rows(self, connection) -> list[tuple]:
        if self.sql is None:
            return []
        with connection.cursor() as cursor:
            cursor.execute(self.sql, self.params)
            rows = cursor.fetchall()
        if not self.converters:
            return rows
        return [tuple(converted(row, self.converters, connection)) for row in rows]


def compiled_rows(key: tuple, model, build: Callable) -> list[tuple]:
    """The rows of the values_list queryset `build()`, its SQL compiled once per
    `key` and database: `key` must name everything the queryset's conditions
    read (the user's, through access.scope_signature). Compiling a union of a
    few scoped querysets costs more than running it; the compiled statement is
    kept for the next request with the same key (at most COMPILED_MAX kept)."""
    connection = connections[router.db_for_read(model)]
    full_key = (connection.alias, *key)
    compiled = _COMPILED.get(full_key)
    if compiled is None:
        compiled = _Compiled(build(), connection)
        _keep(_COMPILED, full_key, compiled)
    return compiled.rows(connection)


# --- Rows written in one statement -----------------------------------------------


def insert(objs: list) -> list:
    """Insert `objs`, new instances of one model with an automatic primary key,
    in as few INSERT … RETURNING statements as the database allows, each given
    its primary key; what bulk_create does (no signal either), without building
    its compiler: on the grid's save, building it cost more than the insert.
    Values are prepared as the ORM prepares them (auto_now_add, JSON…)."""
    if not objs:
        return objs
    model = type(objs[0])
    connection = connections[router.db_for_write(model)]
    meta = model._meta
    fields = [field for field in meta.concrete_fields if field is not meta.pk]
    names = ", ".join(columns(model, connection)[field.name] for field in fields)
    row = f"({', '.join(['%s'] * len(fields))})"
    returning = connection.ops.quote_name(meta.pk.column)
    size = max(1, connection.ops.bulk_batch_size(fields, objs))
    with connection.cursor() as cursor:
        for start in range(0, len(objs), size):
            batch = objs[start : start + size]
            values = [
                field.get_db_prep_save(field.pre_save(obj, True), connection)
                for obj in batch
                for field in fields
            ]
            cursor.execute(
                f"INSERT INTO {table(model, connection)} ({names})"  # noqa: S608 - names from the model
                f" VALUES {', '.join([row] * len(batch))} RETURNING {returning}",
                values,
            )
            for obj, (pk,) in zip(batch, cursor.fetchall(), strict=True):
                obj.pk = pk
                obj._state.adding, obj._state.db = False, connection.alias
    return objs


# --- Querysets of model instances compiled once, values put in place -------------

# Stand-ins for the values a shaped queryset is built from: ids no table reaches.
STAND_IN = 2**62
_SHAPES: dict[tuple, "_Shape"] = {}


class _Shape:
    """A queryset built from stand-ins, compiled once: its SQL, its parameters
    with the places of each stand-in, and what its compiler learnt compiling it
    (selected columns, related models) for the ORM to build the instances."""

    def __init__(self, queryset, connection, count: int):
        compiler = queryset.query.get_compiler(connection=connection)
        try:
            self.sql, params = compiler.as_sql()
        except EmptyResultSet:  # a condition nothing meets (a user of no one)
            self.sql = None
            return
        stand_ins = {STAND_IN + n: n for n in range(count)}
        self.params = list(params)
        self.places = [
            (index, stand_ins[value])
            for index, value in enumerate(self.params)
            if isinstance(value, int) and value in stand_ins
        ]
        if {which for _, which in self.places} != set(range(count)):
            raise ValueError(
                "statements.shaped: each value must reach the SQL as it is given"
            )
        self.queryset, self.compiler_class = queryset, type(compiler)
        # (database connection, the columns' converters): worked out once per
        # connection too, for the rows of every call (compiler.get_converters).
        self.converters = None
        self.state = {
            name: value
            for name, value in vars(compiler).items()
            if name not in ("connection", "query", "using")
        }

    def rows(self, values: tuple) -> list:
        if self.sql is None:
            return []
        params = list(self.params)
        for index, which in self.places:
            params[index] = values[which]
        clone = self.queryset.all()
        query, state, sql = clone.query, self.state, self.sql
        compiler_class = self.compiler_class

        def get_compiler(using=None, connection=None, elide_empty=True):
            compiler = compiler_class(
                query, connection or connections[using], using, elide_empty
            )
            vars(compiler).update(state)
            compiler.as_sql = lambda *args, **kwargs: (sql, tuple(params))
            compiler.get_converters = lambda expressions: self._converters(
                compiler, expressions
            )
            return compiler

        # On this clone only, which never leaves here: a list is answered.
        query.get_compiler = get_compiler
        return list(clone)

    def _converters(self, compiler, expressions) -> dict:
        kept = self.converters
        if kept is None or kept[0] is not compiler.connection:
            kept = (
                compiler.connection,
                type(compiler).get_converters(compiler, expressions),
            )
            self.converters = kept
        return kept[1]


def shaped(key, model, build: Callable, *values: int) -> list:
    """`list(build(*values))`, the queryset compiled once per `key` and database.

    `build` makes a queryset of `model` instances (select_related welcome, no
    prefetch) from ids only, each reaching the SQL as a parameter as it is given
    (a filter on a key, not a lookup that rewrites it): it is built once with
    stand-ins, and each call puts its values in their places. Every other value
    it reads must be named by `key` (a user's conditions: scope_signature) or
    never change (a status); an id read from the database is one of `values`
    (a content type's, say). Use the managers, not a related manager (which
    would give each row the stand-in as its parent). A page's section
    of a dozen joined columns then costs its query, not its compiling (about a
    third of a change request's page, BENCHMARKS.md)."""
    full_key = (key, router.db_for_read(model), len(values))
    shape = _SHAPES.get(full_key)
    if shape is None:
        queryset = build(*(STAND_IN + n for n in range(len(values))))
        shape = _Shape(queryset, connections[queryset.db], len(values))
        _keep(_SHAPES, full_key, shape)
    return shape.rows(values)


def children(model, parent: str, pk: int, *related: str) -> list:
    """The rows of `model` whose foreign key `parent` is `pk` (in the model's
    order), with their `related`: a page's section, compiled once (shaped)."""
    return shaped(
        ("children", model._meta.label, parent, related),
        model,
        lambda stand_in: model._default_manager.filter(
            **{f"{parent}_id": stand_in}
        ).select_related(*related),
        pk,
    )


def _keep(kept: dict, key, value) -> None:
    """Keep `value` under `key`, the oldest kept going beyond COMPILED_MAX
    (dicts keep their insertion order); another thread emptying `kept`
    meanwhile leaves nothing to do."""
    if len(kept) >= COMPILED_MAX:
        with contextlib.suppress(StopIteration, RuntimeError):
            kept.pop(next(iter(kept)), None)
    kept[key] = value

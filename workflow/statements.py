"""Hot statements, written once per database.

A few queries run on every request or nearly: the session, the signed-in user with
their memberships, the unread count of the shell. Building them through the ORM
cost more than running them (about 0.5 ms of CPU each on the load test's machine,
BENCHMARKS.md); here their SQL is written once per database, with the tables' and
columns' names taken from the models, and run with the request's values.
"""

from collections.abc import Callable

from django.db import connections, router

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
            values = list(values)
            for index, column, converters in self.converters:
                value = values[index]
                for converter in converters:
                    value = converter(value, column, connection)
                values[index] = value
        return self.model.from_db(self.alias, self.names, values)

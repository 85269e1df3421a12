"""The signed-in user of each request, read with their memberships in one statement.

Every request reads its session, then its user, then (nearly always) the user's
memberships to scope what it shows: three ORM queries whose building costs more
than running them (about 0.5 ms of CPU each on the load test's machine, a sixth of
a small page). Here the session row and the user with their memberships are each
read by one statement written once, the rows turned into model instances as the
ORM would: the same objects, the same rules (an inactive user is signed out, the
session's hash is still checked by django.contrib.auth), a fraction of the cost.
"""

from contextvars import ContextVar

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from contacts.models import Membership, Organisation
from workflow import access, statements

# Sessions signed in before this backend existed name Django's own; they still
# resolve (workflow.sessions.SessionStore reads them as ours).
DJANGO_MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
BACKEND = "workflow.signin.MemberBackend"


def _columns(model, alias: str, connection) -> tuple[list[str], "statements.Reader"]:
    """The model's concrete fields as `alias`."column", and their reader."""
    return (
        [
            f"{alias}.{column}"
            for column in statements.columns(model, connection).values()
        ],
        statements.Reader(model, connection),
    )


def _statement(connection) -> tuple:
    """(SQL, the user's, a membership's and an organisation's readers): the user,
    each membership and its organisation, memberships in their model's order
    (organisation code, role); one row with NULL memberships for a user without
    any."""
    user_model = get_user_model()
    user = statements.columns(user_model, connection)
    user_pk = user[user_model._meta.pk.name]
    return _joined(
        connection,
        head="",
        source=f"{statements.table(user_model, connection)} u",
        join=None,
        where=f"u.{user_pk} = %s",
    )


def session_statement(session_model, connection) -> tuple:
    """The same for the session row of a key, still valid at a time: its data
    first, then its user's columns (NULL without a signed-in user), each
    membership and its organisation."""
    column = statements.columns(session_model, connection)
    user_model = get_user_model()
    user_pk = statements.columns(user_model, connection)[user_model._meta.pk.name]
    return _joined(
        connection,
        head=f"s.{column['session_data']}, ",
        source=f"{statements.table(session_model, connection)} s",
        join=(
            f" LEFT JOIN {statements.table(user_model, connection)} u"
            f" ON u.{user_pk} = s.{column['user_id']}"
        ),
        where=f"s.{column['session_key']} = %s AND s.{column['expire_date']} > %s",
    )


def _joined(connection, *, head: str, source: str, join: str | None, where: str):
    user_model = get_user_model()
    user_columns, users = _columns(user_model, "u", connection)
    member_columns, members = _columns(Membership, "m", connection)
    organisation_columns, organisations = _columns(Organisation, "o", connection)
    user = statements.columns(user_model, connection)
    member = statements.columns(Membership, connection)
    organisation = statements.columns(Organisation, connection)
    user_pk = user[user_model._meta.pk.name]
    columns = ", ".join([*user_columns, *member_columns, *organisation_columns])
    sql = (
        f"SELECT {head}{columns}"  # noqa: S608 - names from the models
        f" FROM {source}{join or ''}"
        f" LEFT JOIN {statements.table(Membership, connection)} m"
        f" ON m.{member['user']} = u.{user_pk}"
        f" LEFT JOIN {statements.table(Organisation, connection)} o"
        f" ON o.{organisation[Organisation._meta.pk.name]} = m.{member['organisation']}"
        f" WHERE {where}"
        f" ORDER BY o.{organisation['code']}, m.{member['role']}"
    )
    return sql, users, members, organisations


def user_with_memberships(user_id):
    """The user `user_id` with their memberships already cached (None: no such
    user)."""
    user_model = get_user_model()
    connection, (sql, users, members, organisations) = statements.prepared(
        "user", user_model, _statement
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_model._meta.pk.to_python(user_id)])
        rows = cursor.fetchall()
    if not rows:
        return None
    return user_from_rows(rows, connection, (users, members, organisations))


def user_from_rows(rows, connection, readers, skip: int = 0):
    """The user of `rows` (the statements above, after `skip` columns) with
    their memberships remembered; None when the rows name no user."""
    users, members, organisations = readers
    if rows[0][skip] is None:  # a session without a signed-in user
        return None
    first = skip + len(users)
    second = first + len(members)
    user = users.instance(rows[0][skip:first], connection)
    memberships = []
    for row in rows:
        if row[first] is None:  # the LEFT JOIN's row of a user without any
            continue
        membership = members.instance(row[first:second], connection)
        membership.user = user
        membership.organisation = organisations.instance(row[second:], connection)
        memberships.append(membership)
    access.remember_memberships(user, memberships)
    return user


# The user read with the request's session (workflow.sessions), for
# MemberBackend.get_user: (the user id as the session stores it, the user).
# Set again by every session read, taken by the first get_user that asks for
# that id.
_READ_WITH_SESSION: ContextVar[tuple[str, object] | None] = ContextVar(
    "tandem_user_read_with_session", default=None
)


def read_with_session(user_id, user) -> None:
    _READ_WITH_SESSION.set(None if user is None else (str(user_id), user))


def _taken_from_session(user_id):
    read = _READ_WITH_SESSION.get()
    if read is None or read[0] != str(user_id):
        return None
    _READ_WITH_SESSION.set(None)
    return read[1]


class MemberBackend(ModelBackend):
    """Django's ModelBackend (passwords, permissions), whose user of a session
    comes with their memberships (`user_with_memberships`)."""

    def get_user(self, user_id):
        user = _taken_from_session(user_id) or user_with_memberships(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None

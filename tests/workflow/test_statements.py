"""Statements written or compiled once (workflow/statements.py): a shaped
queryset gives what the queryset gives, for each call's values, in one query and
without compiling again; a value that does not reach the SQL as given is refused;
what is kept stays within its bound."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Membership, Organisation
from workflow import statements


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(statements, "_SHAPES", {})
    built = []
    original = statements._Shape.__init__

    def counting(self, queryset, connection_, count):
        built.append(queryset.model)
        original(self, queryset, connection_, count)

    monkeypatch.setattr(statements._Shape, "__init__", counting)
    return built


def _members(organisation_id):
    return Membership.objects.filter(organisation_id=organisation_id).select_related(
        "user", "organisation"
    )


def test_a_shaped_queryset_gives_what_the_queryset_gives(demo, fresh):
    for code in ("23", "57", "23"):
        organisation = Organisation.objects.get(code=code)
        expected = list(_members(organisation.pk))

        with CaptureQueriesContext(connection) as queries:
            rows = statements.shaped("members", Membership, _members, organisation.pk)
            # The related rows came with them.
            names = [(m.user.username, m.organisation.code) for m in rows]

        assert rows == expected and rows
        assert [m.role for m in rows] == [m.role for m in expected]
        assert names == [(m.user.username, m.organisation.code) for m in expected]
        assert {code} == {m.organisation.code for m in rows}
        assert len(queries) == 1
        assert all(not m._state.adding and m._state.db == "default" for m in rows)
    assert len(fresh) == 1  # compiled once for the three calls


def test_each_key_and_number_of_values_is_its_own_statement(demo, fresh):
    creuse = Organisation.objects.get(code="23")
    porteur = get_user_model().objects.get(username="cd23.porteur")

    statements.shaped("members", Membership, _members, creuse.pk)
    mine = statements.shaped(
        "mine",
        Membership,
        lambda organisation, user: _members(organisation).filter(user_id=user),
        creuse.pk,
        porteur.pk,
    )

    assert {m.user_id for m in mine} == {porteur.pk}
    assert len(fresh) == 2


def test_a_value_the_sql_does_not_carry_as_given_is_refused(demo, fresh):
    with pytest.raises(ValueError, match="as it is given"):
        statements.shaped(
            "shifted",
            Membership,
            lambda organisation: Membership.objects.filter(
                organisation_id=organisation + 1
            ),
            1,
        )
    with pytest.raises(ValueError, match="as it is given"):
        statements.shaped(
            "as text",
            Organisation,
            lambda code: Organisation.objects.filter(code=str(code)),
            23,
        )


def test_what_is_kept_stays_within_its_bound(demo, fresh, monkeypatch):
    monkeypatch.setattr(statements, "COMPILED_MAX", 2)
    creuse = Organisation.objects.get(code="23")
    for key in ("a", "b", "c", "a"):
        statements.shaped(key, Membership, _members, creuse.pk)

    assert len(statements._SHAPES) == 2
    assert len(fresh) == 4  # "a" had gone when it came back


def test_a_queryset_nothing_meets_gives_nothing(demo, fresh):
    with CaptureQueriesContext(connection) as queries:
        rows = statements.shaped(
            "none", Membership, lambda pk: Membership.objects.none().filter(pk=pk), 1
        )
    assert rows == [] and len(queries) == 0


@pytest.mark.django_db
def test_a_constant_is_written_into_the_sql_and_only_a_codes_constant():
    """The task queues' statuses are literals of the statement (a plan made for
    any parameters then knows how few tasks wait, workflow/flowviews.py); a value
    that could come from a user is refused."""
    from django.contrib.auth import get_user_model
    from viewflow.workflow.models import Task
    from viewflow.workflow.status import STATUS

    from workflow.flowviews import to_do_by

    user = get_user_model()(pk=41, username="x")
    sql, params = Task.objects.filter(to_do_by(user)).query.sql_with_params()
    assert f"'{STATUS.NEW}'" in sql and f"'{STATUS.ASSIGNED}'" in sql
    assert STATUS.NEW not in params and STATUS.ASSIGNED not in params
    for unsafe in ("x' OR '1'='1", "", "é"):
        with pytest.raises(ValueError):
            statements.Constant(unsafe)


def test_the_columns_converters_are_worked_out_once_and_still_convert(
    demo, fresh, monkeypatch
):
    """Dates come back aware datetimes, on every call, from converters the
    compiler worked out once for the connection."""
    from django.db.models.sql.compiler import SQLCompiler

    worked_out = []
    original = SQLCompiler.get_converters

    def counting(self, expressions):
        worked_out.append(len(expressions))
        return original(self, expressions)

    monkeypatch.setattr(SQLCompiler, "get_converters", counting)
    shaped_calls = []
    for code in ("23", "57", "23"):
        organisation = Organisation.objects.get(code=code)
        expected = list(_members(organisation.pk))
        before = len(worked_out)
        rows = statements.shaped("members", Membership, _members, organisation.pk)
        shaped_calls.append(len(worked_out) - before)
        assert rows and [m.user.date_joined for m in rows] == [
            m.user.date_joined for m in expected
        ]
        assert all(m.user.date_joined.tzinfo is not None for m in rows)
    assert shaped_calls == [1, 0, 0]  # the first call only

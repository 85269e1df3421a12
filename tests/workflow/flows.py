"""A minimal flow whose human task belongs to a client's role: used to check that
viewflow's queues are scoped by organisation through our permission strings."""

from datetime import timedelta

from viewflow import this
from viewflow.workflow import flow
from viewflow.workflow.flow.views import UpdateProcessView

from contacts.models import Role
from workflow.access import role_permission


class OrganisationTaskFlow(flow.Flow):
    start = flow.StartHandle(this.start_for).Next(this.act)
    act = (
        flow.View(UpdateProcessView.as_view(fields=[]))
        .Permission(
            lambda activation: role_permission(
                Role.PORTEUR_DEMANDE, activation.process.artifact
            )
        )
        .Next(this.end)
    )
    end = flow.End()

    def start_for(self, activation, organisation):
        activation.process.artifact = organisation
        return activation.process


class WaitingFlow(flow.Flow):
    """Waits three days on a database-backed timer, then ends."""

    start = flow.StartHandle().Next(this.wait)
    wait = flow.Timer(timedelta(days=3)).Next(this.end)
    end = flow.End()

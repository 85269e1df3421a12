from datetime import timedelta

from django.utils import timezone
from viewflow.workflow.status import STATUS

from tests.workflow.flows import WaitingFlow
from workflow.models import Heartbeat
from workflow.tasks import fire_due_timers, heartbeat


def test_beat_task_fires_viewflow_timers_once_due(db):
    process = WaitingFlow.start.run()
    timer = process.task_set.get(flow_task=WaitingFlow.wait)
    assert timer.status == STATUS.SCHEDULED

    assert fire_due_timers.apply().get()["timers"] == 0  # not due yet
    timer.scheduled = timezone.now() - timedelta(seconds=1)
    timer.save(update_fields=["scheduled"])
    assert fire_due_timers.apply().get()["timers"] == 1

    process.refresh_from_db()
    assert process.status == STATUS.DONE
    assert fire_due_timers.apply().get()["timers"] == 0  # never fired twice


def test_heartbeat_records_the_last_run(db):
    heartbeat.apply()
    first = Heartbeat.objects.get(name="worker").seen_at

    heartbeat.apply()

    assert Heartbeat.objects.count() == 1
    assert Heartbeat.objects.get(name="worker").seen_at >= first

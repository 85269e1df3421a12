"""Background jobs of the incidents, scheduled by Celery beat."""

import logging

from celery import shared_task

from incidents import services

logger = logging.getLogger(__name__)


@shared_task(name="incidents.tasks.incident_clocks")
def incident_clocks() -> dict:
    """The clocks' warnings at 75 % and 100 %, and the incidents closed without
    the client's answer."""
    warned = services.incident_clock_warnings()
    closed = services.incidents_close_unanswered()
    if warned or closed:
        logger.info(
            "incidents : %d avertissement(s) de délai, %d clos sans réponse",
            warned,
            len(closed),
        )
    return {"warned": warned, "closed": len(closed)}

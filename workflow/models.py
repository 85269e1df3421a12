"""Models shared by both processes."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Heartbeat(models.Model):
    """The last time a background job ran: shows that the worker and beat are alive."""

    name = models.CharField(_("traitement"), max_length=100, unique=True)
    seen_at = models.DateTimeField(_("dernier passage"))
    hostname = models.CharField(_("machine"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("passage des traitements en arrière-plan")
        verbose_name_plural = _("passages des traitements en arrière-plan")

    def __str__(self) -> str:
        return f"{self.name} @ {self.seen_at:%Y-%m-%d %H:%M:%S}"

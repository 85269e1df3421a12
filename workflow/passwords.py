"""Password change and reset pages: the current password checked like a login, the
reset e-mail sent by the worker through the outbox and throttled."""

import hashlib
import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone

from workflow.forms import OutboxPasswordResetForm, ThrottledPasswordChangeForm
from workflow.models import RateCounter
from workflow.notifications import Recipient, notify
from workflow.throttling import client_ip

logger = logging.getLogger(__name__)

WINDOW = timedelta(hours=1)


def _journal_password_set(user, how: str) -> None:
    """A password changed by its owner is a change to the account: journalled."""
    from workflow import audit
    from workflow.models import AuditEntry

    audit.record(
        AuditEntry.Action.ADMINISTRATION,
        by=user,
        change=how,
        model="auth.user",
        object_id=str(user.pk),
    )


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's password change with ThrottledPasswordChangeForm."""

    form_class = ThrottledPasswordChangeForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}

    def form_valid(self, form):
        with transaction.atomic():
            response = super().form_valid(form)
            _journal_password_set(form.user, "mot_de_passe_change")
        return response


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's new-password page reached from the e-mailed link, journalled."""

    def form_valid(self, form):
        with transaction.atomic():
            response = super().form_valid(form)
            _journal_password_set(form.user, "mot_de_passe_reinitialise")
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """Django's password reset request, throttled per e-mail address and per
    client address; the answer is the same page whatever happened."""

    form_class = OutboxPasswordResetForm

    def form_valid(self, form):
        email = form.cleaned_data["email"].strip().lower()
        address = client_ip(self.request) or ""
        # Both counted, whatever the first says.
        per_address = within_limit(
            "reset_address", address, settings.TANDEM_PASSWORD_RESET_PER_ADDRESS
        )
        per_email = within_limit(
            "reset_email", email, settings.TANDEM_PASSWORD_RESET_PER_EMAIL
        )
        if not (per_address and per_email):
            logger.warning(
                "Réinitialisation de mot de passe limitée depuis %s", address
            )
            return HttpResponseRedirect(self.get_success_url())
        return super().form_valid(form)


def within_limit(scope: str, key: str, limit: int) -> bool:
    """Count one more request for `key` in the current hour; False past `limit`.

    The key is stored hashed (an e-mail address typed by anyone is not kept); the
    count is one UPDATE adding one, or the row's creation in a savepoint (a
    concurrent creation makes it fail and the UPDATE is tried again). Rows of past
    windows are deleted.
    """
    now = timezone.now()
    window = now.replace(minute=0, second=0, microsecond=0)
    digest = hashlib.sha256(f"{scope}:{key}".encode()).hexdigest()
    rows = RateCounter.objects.filter(scope=scope, key=digest, window=window)
    # One transaction: the row stays locked from the increment to the read, so
    # each request reads its own count.
    with transaction.atomic():
        if not rows.update(count=F("count") + 1):
            try:
                with transaction.atomic():
                    RateCounter.objects.create(
                        scope=scope, key=digest, window=window, count=1
                    )
            except IntegrityError:
                rows.update(count=F("count") + 1)
        count = rows.values_list("count", flat=True).get()
    RateCounter.objects.filter(window__lt=now - WINDOW).delete()
    return count <= limit


def queue_reset_message(user, email: str, uid: str, token: str) -> None:
    """Write the reset e-mail to the outbox; the worker sends it after commit."""
    from contacts.models import Organisation

    person = getattr(user, "person", None)
    organisation = (
        person.organisation
        if person is not None
        else Organisation.objects.filter(kind=Organisation.Kind.SUPPLIER).first()
    )
    if organisation is None:
        logger.warning("Réinitialisation pour %s : aucun organisme", user.pk)
        return
    link = reverse("password_reset_confirm", args=[uid, token])
    with transaction.atomic():
        notify(
            event=f"password_reset:{user.pk}:{uuid.uuid4().hex}",
            kind="password_reset",
            organisation=organisation,
            # No user: the message (and its link) stays out of the in-app list.
            recipients=[Recipient(email)],
            context={"username": user.get_username()},
            link=link,
        )

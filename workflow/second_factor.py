"""The second factor (TOTP, django-otp) that confirms a DSI's decision on a go-live
agreement: enrolling the user's authenticator app, then checking its codes.

A user has at most one confirmed device, plus one pending (unconfirmed) device while
enrolling. A pending device is created, to replace a confirmed device, only after a
valid code of the current one; for a user without one (a first enrolment, or after
an administrator deleted a lost phone's device in the Django admin), only after the
user typed their own password again (counted like a login) and then a code sent by
e-mail to their own address. So an open session alone, or whoever reset the
password, cannot enrol a device of their own in a signer's name.

Codes are single-use: django-otp's `verify_token` only accepts a time step above
the device's `last_t`, and the device row is locked while it is checked, so the same
code sent twice at the same instant passes once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from base64 import b32encode
from datetime import datetime, timedelta

import qrcode
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp.plugins.otp_totp.models import TOTPDevice
from qrcode.image.svg import SvgPathFillImage

from workflow import audit
from workflow.locking import for_update
from workflow.models import AuditEntry
from workflow.transitions import ActionRefused

DEVICE_NAME = "Application d'authentification"
PENDING_NAME = "Application d'authentification (en attente)"


class SecondFactorMissing(ActionRefused):
    """The user has no confirmed device: they must enrol before deciding."""

    link_label = gettext_lazy("Enregistrer mon application d'authentification")

    def __init__(self):
        super().__init__(
            _(
                "La signature et le refus de l'accord demandent, en plus du mot de "
                "passe, un code de votre application d'authentification. Aucune "
                "application n'est enregistrée pour votre compte : enregistrez-la "
                "d'abord (menu « Double authentification »), puis revenez à cette "
                "tâche."
            )
        )
        self.link = reverse("second_factor")


class CodeRejected(ValidationError):
    """A wrong or already used code (`failed_attempt`), or one sent too soon after
    failures (the device's back-off)."""

    def __init__(self, message, *, field: str, failed_attempt: bool):
        super().__init__({field: message})
        self.failed_attempt = failed_attempt


def confirmed_device_of(user) -> TOTPDevice | None:
    """The user's confirmed TOTP device, if any."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def pending_device_of(user) -> TOTPDevice | None:
    """The device the user is enrolling, not confirmed yet (the latest one)."""
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()


def _locked_device(user, *, confirmed: bool) -> TOTPDevice | None:
    """The user's confirmed device, or the latest pending one, locked."""
    devices = for_update(TOTPDevice.objects.filter(user=user, confirmed=confirmed))
    return devices.order_by("pk" if confirmed else "-pk").first()


def _rejection(device: TOTPDevice, code: str, *, field: str) -> CodeRejected | None:
    """Verify `code` on the locked `device`, which spends it; the reason it is
    refused, if it is. A wrong code is counted on the device (saved in the current
    transaction: the callers below let it commit before raising)."""
    allowed, details = device.verify_is_allowed()
    if not allowed:
        wait = max(1, int((details["locked_until"] - timezone.now()).total_seconds()))
        return CodeRejected(
            _(
                "Trop de codes erronés : attendez %(seconds)s s avant de saisir le "
                "code suivant."
            )
            % {"seconds": wait},
            field=field,
            failed_attempt=False,
        )
    if device.verify_token("".join((code or "").split())):
        return None
    return CodeRejected(
        _(
            "Code incorrect ou déjà utilisé : saisissez le code que votre "
            "application affiche maintenant."
        ),
        field=field,
        failed_attempt=True,
    )


def second_factor_verify(*, user, code: str, field: str = "otp_token") -> None:
    """A valid, never used code of the user's confirmed device, or a refusal.

    The code is spent unless the caller's transaction rolls back. A rejected code is
    counted on the device; a caller whose own transaction rolls back loses that
    count and records it again with `failed_attempt_record` afterwards.
    """
    with transaction.atomic():
        device = _locked_device(user, confirmed=True)
        if device is None:
            raise SecondFactorMissing()
        rejected = _rejection(device, code, field=field)
    if rejected is not None:
        raise rejected


def failed_attempt_record(user) -> None:
    """Count a rejected code on the user's device, for a caller whose transaction
    was rolled back with the count in it."""
    with transaction.atomic():
        device = _locked_device(user, confirmed=True)
        if device is not None:
            device.throttle_increment()


# The code sent by e-mail before a first enrolment (kept hashed in the session).
MAILBOX_CODE_MINUTES = 15
MAILBOX_CODE_ATTEMPTS = 5
_MAILBOX_KEY = "tandem_enrolment_mailbox"


def _mailbox_digest(user, code: str) -> str:
    material = f"{user.pk}:{code}:{settings.SECRET_KEY}".encode()
    return hashlib.sha256(material).hexdigest()


def mailbox_code_send(session, user) -> None:
    """E-mail a fresh 8-digit code to the user's own address (through the outbox)
    and remember its digest in the session for MAILBOX_CODE_MINUTES."""
    from workflow import routing
    from workflow.notifications import Recipient, notify

    if not user.email:
        raise ActionRefused(
            _(
                "Aucune adresse électronique n'est enregistrée pour votre compte : "
                "demandez à l'administrateur de Tandem de la renseigner."
            )
        )
    code = f"{secrets.randbelow(10**8):08d}"
    expires = timezone.now() + timedelta(minutes=MAILBOX_CODE_MINUTES)
    session[_MAILBOX_KEY] = {
        "user": user.pk,
        "digest": _mailbox_digest(user, code),
        "expires": expires.isoformat(),
        "attempts": 0,
    }
    notify(
        event=f"enrolment_code:{user.pk}:{uuid.uuid4().hex}",
        kind="enrolment_code",
        organisation=routing.supplier(),
        # No user: the code goes to the mailbox only, never to the in-app list that
        # an open session could read.
        recipients=[Recipient(user.email)],
        context={"code": code, "minutes": MAILBOX_CODE_MINUTES, "account": user},
        link=reverse("second_factor"),
    )
    audit.record(
        AuditEntry.Action.ADMINISTRATION,
        by=user,
        change="code_enrolement_envoye",
        model="otp_totp.totpdevice",
    )


def mailbox_code_pending(session, user) -> bool:
    """Is a code sent to the user still waiting to be typed?"""
    state = session.get(_MAILBOX_KEY)
    return bool(
        state
        and state.get("user") == user.pk
        and not state.get("proven")
        and timezone.now() < datetime.fromisoformat(state["expires"])
    )


def mailbox_code_check(session, user, code: str) -> None:
    """The code sent by e-mail, or a refusal; spent once right."""
    state = session.get(_MAILBOX_KEY)
    if not mailbox_code_pending(session, user):
        session.pop(_MAILBOX_KEY, None)
        raise ValidationError(
            {"mail_code": _("Ce code a expiré : demandez-en un nouveau.")}
        )
    state["attempts"] += 1
    if state["attempts"] > MAILBOX_CODE_ATTEMPTS:
        session.pop(_MAILBOX_KEY, None)
        raise ValidationError(
            {"mail_code": _("Trop de codes erronés : demandez-en un nouveau.")}
        )
    given = "".join((code or "").split())
    if not hmac.compare_digest(state["digest"], _mailbox_digest(user, given)):
        session[_MAILBOX_KEY] = state
        raise ValidationError(
            {
                "mail_code": _(
                    "Code incorrect : saisissez le code à 8 chiffres reçu par courriel."
                )
            }
        )
    session[_MAILBOX_KEY] = {**state, "proven": True}


def mailbox_proven(session, user) -> bool:
    """Did the user type the code sent to their mailbox (within its validity)?"""
    state = session.get(_MAILBOX_KEY)
    return bool(
        state
        and state.get("user") == user.pk
        and state.get("proven")
        and timezone.now() < datetime.fromisoformat(state["expires"])
    )


def mailbox_forget(session) -> None:
    session.pop(_MAILBOX_KEY, None)


def enrolment_start(
    *, user, current_code: str = "", mailbox_proven: bool = False
) -> TOTPDevice:
    """A pending device with a new secret. Replacing a confirmed device needs a
    valid code of it; a first device, the proof that the user read the code sent
    to their mailbox (`mailbox_proven`, after their password)."""
    with transaction.atomic():
        current = _locked_device(user, confirmed=True)
        rejected = None
        if current is not None:
            rejected = _rejection(current, current_code, field="code")
        elif not mailbox_proven:
            raise ActionRefused(
                _(
                    "Enregistrer une application demande d'abord votre mot de passe "
                    "puis le code envoyé à votre adresse électronique."
                )
            )
        if rejected is None:
            TOTPDevice.objects.filter(user=user, confirmed=False).delete()
            pending = TOTPDevice.objects.create(
                user=user, name=PENDING_NAME, confirmed=False
            )
    if rejected is not None:
        raise rejected
    return pending


def enrolment_confirm(*, user, code: str) -> TOTPDevice:
    """The pending device becomes the user's device once it gives a valid code;
    the device it replaces is deleted."""
    with transaction.atomic():
        pending = _locked_device(user, confirmed=False)
        if pending is None:
            raise ActionRefused(
                _("Aucun enregistrement n'est en cours : recommencez depuis le début.")
            )
        rejected = _rejection(pending, code, field="code")
        if rejected is None:
            TOTPDevice.objects.filter(user=user).exclude(pk=pending.pk).delete()
            pending.name, pending.confirmed = DEVICE_NAME, True
            pending.save(update_fields=["name", "confirmed"])
            audit.record(
                AuditEntry.Action.ADMINISTRATION,
                by=user,
                change="enrolement",
                model="otp_totp.totpdevice",
                object_id=str(pending.pk),
            )
    if rejected is not None:
        raise rejected
    return pending


def enrolment_cancel(*, user) -> None:
    """Drop the user's pending device; a confirmed one stays."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()


def device_secret(device: TOTPDevice) -> str:
    """The base32 secret, in groups of four, for typing into an app by hand."""
    secret = b32encode(device.bin_key).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def device_qr_svg(device: TOTPDevice) -> SafeString:
    """The device's otpauth:// URI as an inline SVG QR code (no script, no style)."""
    image = qrcode.make(
        device.config_url, image_factory=SvgPathFillImage, box_size=10, border=4
    )
    # Generated from the URI's bits only: no user text ends up in the markup.
    return mark_safe(image.to_string(encoding="unicode"))  # noqa: S308

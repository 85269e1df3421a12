"""The TOTP second factor: both DSIs confirm their decision on the go-live agreement
with a code of their own enrolled authenticator app, checked by the services."""

import io
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from evolutions.demo import evolutions_demo_load
from evolutions.models import ChangeRequest
from recette import services
from recette.flows import RecetteFlow
from recette.models import Execution, GoLiveAgreement
from tests.conftest import totp_code
from tests.recette.test_flow_http import _act, _open_task, _signing, _to_signatures
from workflow import second_factor
from workflow.demo import DEMO_TOTP_SECRET, demo_data_load, demo_totp_code
from workflow.models import Notification

F = RecetteFlow
PASSWORD = "tandem-demo"
PAGE = "/compte/double-authentification/"


@pytest.fixture
def agreement(world):
    """An agreement both DSIs may sign: one case passed, favourable report."""
    evolutions_demo_load()
    cr = ChangeRequest.objects.get(
        organisation__code="23", status=ChangeRequest.Status.IN_ACCEPTANCE
    )
    moe, porteur = world.user("cnaf.moe"), world.user("cd23.porteur")
    today = timezone.localdate()
    plan = services.plan_prepare(change_request_pk=cr.pk, by=moe)
    services.plan_update(pk=plan.pk, by=moe, workload=1, start=today, end=today)
    services.case_add(
        pk=plan.pk, by=moe, reference="CT-1", title="Cas", steps=[("a", "b")]
    )
    services.plan_submit(pk=plan.pk, by=moe)
    services.plan_decide(pk=plan.pk, by=porteur, validated=True)
    services.qualification_record(
        change_request_pk=cr.pk, by=moe, passed=True, on=today
    )
    campaign = services.delivery_record(
        change_request_pk=cr.pk, by=moe, on=today, environment="REC"
    )
    services.executions_record(
        pk=campaign.pk,
        by=porteur,
        results=[{"case": plan.cases.get().pk, "result": Execution.Result.PASSED}],
    )
    services.campaign_close(pk=campaign.pk, by=porteur)
    report = services.report_prepare(change_request_pk=cr.pk, by=porteur)
    services.report_update(pk=report.pk, by=porteur, verdict="favorable")
    return services.report_submit(pk=report.pk, by=porteur)


def _sign(agreement, user, code):
    return services.agreement_sign(
        pk=agreement.pk, by=user, password=PASSWORD, otp_token=code
    )


def _wrong(code: str) -> str:
    """Another well-formed code than `code`."""
    return f"{(int(code) + 1) % 1_000_000:06d}"


def _back_off_over(user):
    """As if the user had waited out the delay that follows a wrong code."""
    TOTPDevice.objects.filter(user=user).update(throttling_failure_timestamp=None)


def _nothing_saved(agreement):
    agreement = GoLiveAgreement.objects.get(pk=agreement.pk)
    assert agreement.status == GoLiveAgreement.Status.PENDING
    assert not agreement.signatures.exists()


# --- Signing and refusing through the services --------------------------------


@pytest.mark.parametrize("username", ["cd23.dsi", "cnaf.dsi"])
def test_dsi_without_device_cannot_sign_nor_refuse(world, agreement, username):
    dsi = world.user(username)
    TOTPDevice.objects.filter(user=dsi).delete()

    with pytest.raises(second_factor.SecondFactorMissing) as refusal:
        _sign(agreement, dsi, "123456")
    assert "Aucune application n'est enregistrée pour votre compte" in str(
        refusal.value
    )
    assert refusal.value.link == reverse("second_factor")
    with pytest.raises(second_factor.SecondFactorMissing):
        services.agreement_refuse(
            pk=agreement.pk,
            by=dsi,
            password=PASSWORD,
            reason="Non",
            otp_token="123456",
        )
    _nothing_saved(agreement)


def test_a_pending_device_is_not_enough_to_sign(world, agreement):
    dsi = world.user("cnaf.dsi")
    TOTPDevice.objects.filter(user=dsi).delete()
    second_factor.enrolment_start(user=dsi, mailbox_proven=True)

    with pytest.raises(second_factor.SecondFactorMissing):
        _sign(agreement, dsi, totp_code(dsi, confirmed=False))
    _nothing_saved(agreement)


@pytest.mark.parametrize("username", ["cd23.dsi", "cnaf.dsi"])
def test_wrong_code_is_refused_and_counted(world, agreement, username):
    dsi = world.user(username)
    with pytest.raises(ValidationError) as error:
        _sign(agreement, dsi, _wrong(totp_code(dsi)))

    assert "Code incorrect ou déjà utilisé" in error.value.message_dict["otp_token"][0]
    _nothing_saved(agreement)
    assert TOTPDevice.objects.get(user=dsi).throttling_failure_count == 1


def test_correct_codes_sign_and_the_signatures_record_the_second_factor(
    world, agreement
):
    client_dsi, supplier_dsi = world.user("cd23.dsi"), world.user("cnaf.dsi")

    _sign(agreement, client_dsi, totp_code(client_dsi))
    _sign(agreement, supplier_dsi, totp_code(supplier_dsi))

    agreement = GoLiveAgreement.objects.get(pk=agreement.pk)
    assert agreement.status == GoLiveAgreement.Status.SIGNED
    assert {
        (s.signer.username, s.second_factor) for s in agreement.signatures.all()
    } == {("cd23.dsi", "totp"), ("cnaf.dsi", "totp")}


def test_a_code_is_spent_once_per_device(world, agreement):
    supplier_dsi, client_dsi = world.user("cnaf.dsi"), world.user("cd23.dsi")
    code = totp_code(supplier_dsi)
    _sign(agreement, supplier_dsi, code)

    with pytest.raises(ValidationError, match="déjà utilisé"):
        services.agreement_refuse(
            pk=agreement.pk,
            by=supplier_dsi,
            password=PASSWORD,
            reason="Je me ravise",
            otp_token=code,
        )
    assert GoLiveAgreement.objects.get(pk=agreement.pk).status == "en_attente"
    # The demo DSIs share one secret but each has a device: the same digits,
    # spent on the supplier's device, are still new to the client's.
    assert totp_code(client_dsi) == code
    _sign(agreement, client_dsi, code)
    assert GoLiveAgreement.objects.get(pk=agreement.pk).status == "signe"


def test_a_refusal_is_confirmed_by_a_code_and_records_it(world, agreement):
    dsi = world.user("cnaf.dsi")

    with pytest.raises(ValidationError, match="Code incorrect"):
        services.agreement_refuse(
            pk=agreement.pk,
            by=dsi,
            password=PASSWORD,
            reason="Pas prêt",
            otp_token=_wrong(totp_code(dsi)),
        )
    assert GoLiveAgreement.objects.get(pk=agreement.pk).status == "en_attente"
    _back_off_over(dsi)
    services.agreement_refuse(
        pk=agreement.pk,
        by=dsi,
        password=PASSWORD,
        reason="Pas prêt",
        otp_token=totp_code(dsi),
    )

    agreement = GoLiveAgreement.objects.get(pk=agreement.pk)
    assert (agreement.status, agreement.refusal_second_factor) == ("refuse", "totp")


def test_someone_who_may_not_sign_learns_nothing_about_devices(world, agreement):
    with pytest.raises(PermissionDenied):
        _sign(agreement, world.user("cd23.porteur"), "123456")
    _nothing_saved(agreement)


# --- The signature task page ---------------------------------------------------


@pytest.fixture
def journey(world, settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    evolutions_demo_load()
    cr = ChangeRequest.objects.get(
        organisation__code="23", status=ChangeRequest.Status.IN_ACCEPTANCE
    )
    _to_signatures(world, Client(), cr, with_blocking_open=False)
    return cr


def test_task_page_tells_a_dsi_without_device_to_enrol_first(world, client, journey):
    dsi = world.user("cnaf.dsi")
    TOTPDevice.objects.filter(user=dsi).delete()
    task = _open_task(journey, F.sign_supplier)
    client.force_login(dsi)
    args = [task.process_id, task.pk]
    client.post(F.sign_supplier.reverse("assign", args=args))
    execute = F.sign_supplier.reverse("execute", args=args)

    page = client.get(execute).content.decode()
    assert "aucune n'est enregistrée pour votre compte" in page
    assert f'href="{PAGE}?next=' in page

    response = client.post(
        execute, {"decision": "sign", "password": PASSWORD, "otp_token": "123456"}
    )
    assert response.status_code == 409
    assert "enregistrez-la d&#x27;abord" in response.content.decode()
    assert f'href="{PAGE}"' in response.content.decode()
    assert not journey.go_live_agreements.last().signatures.exists()


def test_task_page_refuses_a_wrong_code_and_slows_the_next_attempts(
    world, client, journey, settings
):
    settings.OTP_TOTP_THROTTLE_FACTOR = 60  # the next code waits a minute
    dsi = world.user("cd23.dsi")
    task = _open_task(journey, F.sign_client)
    client.force_login(dsi)
    args = [task.process_id, task.pk]
    client.post(F.sign_client.reverse("assign", args=args))
    execute = F.sign_client.reverse("execute", args=args)
    right = totp_code(dsi)
    wrong = _wrong(right)

    malformed = client.post(execute, {**_signing(dsi), "otp_token": "12a456"})
    assert "Le code est fait de 6 chiffres" in malformed.content.decode()
    response = client.post(execute, {**_signing(dsi), "otp_token": wrong})
    assert response.status_code == 400
    assert "Code incorrect ou déjà utilisé" in response.content.decode()
    # Rolled back with the task, the failure is still counted on the device.
    assert TOTPDevice.objects.get(user=dsi).throttling_failure_count == 1
    too_soon = client.post(execute, {**_signing(dsi), "otp_token": right})
    assert "Trop de codes erronés" in too_soon.content.decode()
    assert not journey.go_live_agreements.last().signatures.exists()

    _back_off_over(dsi)
    _act(client, dsi, journey, F.sign_client, _signing(dsi))
    signature = journey.go_live_agreements.last().signatures.get()
    assert (signature.signer, signature.second_factor) == (dsi, "totp")


# --- Enrolment page ------------------------------------------------------------


def _post(client, action, **data):
    return client.post(PAGE, {"action": action, **data})


def _mailed_code(user) -> str:
    message = Notification.objects.filter(
        kind="enrolment_code", recipient_email=user.email
    ).latest("pk")
    return re.search(r"Code à saisir : (\d{8})", message.body_text).group(1)


def _first_start(client, user):
    """A first enrolment: the password again, then the code e-mailed."""
    assert _post(client, "password", password=PASSWORD).status_code == 302
    return _post(client, "mail_code", mail_code=_mailed_code(user))


def test_enrolment_shows_a_qr_code_and_the_key_then_confirms(world, client):
    user = world.user("cd23.porteur")
    client.force_login(user)
    assert "Aucune application enregistrée" in client.get(PAGE).content.decode()
    assert not TOTPDevice.objects.filter(user=user).exists()  # GET writes nothing

    assert _first_start(client, user).status_code == 302
    device = TOTPDevice.objects.get(user=user)
    page = client.get(PAGE).content.decode()
    assert not device.confirmed
    assert '<svg width="' in page and "<path d=" in page
    assert second_factor.device_secret(device) in page
    assert "<script>" not in page.split('class="tandem-qr"')[1].split("</figure>")[0]

    response = _post(client, "confirm", code=_wrong(totp_code(user, confirmed=False)))
    assert response.status_code == 400
    assert "Code incorrect ou déjà utilisé" in response.content.decode()
    assert not TOTPDevice.objects.get(user=user).confirmed
    assert _post(client, "confirm", code="abc").status_code == 400

    _back_off_over(user)
    response = _post(client, "confirm", code=totp_code(user, confirmed=False))
    assert response.status_code == 302
    assert TOTPDevice.objects.get(user=user).confirmed
    page = client.get(PAGE).content.decode()
    assert "Votre application d&#x27;authentification" in page
    assert second_factor.device_secret(device) not in page


def test_otpauth_uri_names_tandem_and_the_account(world):
    user = world.user("cd23.porteur")
    device = second_factor.enrolment_start(user=user, mailbox_proven=True)

    assert device.config_url.startswith("otpauth://totp/Tandem%3Acd23.porteur?")
    assert "issuer=Tandem" in device.config_url
    assert str(second_factor.device_qr_svg(device)).startswith("<svg")


def test_replacing_a_device_needs_a_code_of_the_current_one(world, client):
    dsi = world.user("cd57.dsi")
    old = TOTPDevice.objects.get(user=dsi, confirmed=True)
    client.force_login(dsi)

    assert _post(client, "start").status_code == 400  # no code
    response = _post(client, "start", code=_wrong(totp_code(dsi)))
    assert response.status_code == 400
    assert not TOTPDevice.objects.filter(user=dsi, confirmed=False).exists()

    _back_off_over(dsi)
    assert _post(client, "start", code=totp_code(dsi)).status_code == 302
    new = TOTPDevice.objects.get(user=dsi, confirmed=False)
    assert TOTPDevice.objects.filter(pk=old.pk, confirmed=True).exists()  # until then

    _post(client, "confirm", code=totp_code(dsi, confirmed=False))
    assert list(TOTPDevice.objects.filter(user=dsi)) == [new]
    assert TOTPDevice.objects.get(pk=new.pk).confirmed


def test_an_enrolment_can_be_abandoned(world, client):
    user = world.user("cd23.testeur")
    client.force_login(user)
    _first_start(client, user)

    assert _post(client, "cancel").status_code == 302
    assert not TOTPDevice.objects.filter(user=user).exists()


def test_nobody_sees_or_confirms_another_users_device(world, client):
    owner, other = world.user("cd23.porteur"), world.user("cd57.porteur")
    device = second_factor.enrolment_start(user=owner, mailbox_proven=True)
    code = totp_code(owner, confirmed=False)
    client.force_login(other)

    page = client.get(PAGE).content.decode()
    assert second_factor.device_secret(device) not in page
    response = _post(client, "confirm", code=code, device=device.pk)
    assert response.status_code == 409
    assert "Aucun enregistrement n&#x27;est en cours" in response.content.decode()
    assert _post(client, "cancel", device=device.pk).status_code == 302

    device.refresh_from_db()
    assert not device.confirmed
    assert not TOTPDevice.objects.filter(user=other).exists()


def test_enrolment_posts_need_the_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.user("cd23.porteur"))

    assert _post(client, "start").status_code == 403
    assert not TOTPDevice.objects.filter(user__username="cd23.porteur").exists()


def test_unknown_action_is_a_400(world, client):
    client.force_login(world.user("cd23.porteur"))

    assert _post(client, "supprimer").status_code == 400


def test_confirming_returns_to_the_task_but_never_elsewhere(world, client):
    user = world.user("cd23.porteur")
    client.force_login(user)
    _first_start(client, user)

    response = _post(
        client,
        "confirm",
        code=totp_code(user, confirmed=False),
        next="https://ailleurs.example/",
    )
    assert response.url == PAGE
    second_factor.enrolment_start(user=user, current_code=totp_code(user))
    response = _post(
        client,
        "confirm",
        code=totp_code(user, confirmed=False),
        next="/taches-recettes/",
    )
    assert response.url == "/taches-recettes/"


def test_user_menu_links_to_the_enrolment_page(world, client):
    client.force_login(world.user("cd23.testeur"))

    assert f'href="{PAGE}"' in client.get("/").content.decode()


# --- Demo ----------------------------------------------------------------------


def test_demo_dsis_have_one_confirmed_device_with_the_documented_key(world):
    demo_data_load()  # a second run adds no device

    devices = TOTPDevice.objects.filter(user__username__endswith=".dsi")
    assert sorted(d.user.username for d in devices) == [
        "cd23.dsi",
        "cd57.dsi",
        "cnaf.dsi",
    ]
    assert all(d.confirmed for d in devices)
    assert {second_factor.device_secret(d).replace(" ", "") for d in devices} == {
        DEMO_TOTP_SECRET
    }
    assert not TOTPDevice.objects.exclude(user__username__endswith=".dsi").exists()


def test_demo_totp_prints_a_code_the_device_accepts(world, settings, agreement):
    settings.DEBUG = True
    out = io.StringIO()
    call_command("demo_totp", "cnaf.dsi", stdout=out, verbosity=0)
    code = out.getvalue().strip()

    assert code == demo_totp_code(world.user("cnaf.dsi"))
    _sign(agreement, world.user("cnaf.dsi"), code)
    assert demo_totp_code(world.user("cnaf.dsi")) != code  # the next step's


def test_demo_totp_refuses_without_debug_or_for_other_accounts(world, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("demo_totp", "cnaf.dsi")
    settings.DEBUG = True
    with pytest.raises(CommandError, match="pas un compte de démonstration"):
        call_command("demo_totp", "root")
    with pytest.raises(CommandError, match="pas l'application de démonstration"):
        call_command("demo_totp", "cd23.porteur")


def test_administrator_removes_a_lost_device_without_seeing_its_key(world, client):
    device = TOTPDevice.objects.get(user__username="cd23.dsi")
    client.force_login(world.user("cnaf.admin"))

    change = reverse("admin:otp_totp_totpdevice_change", args=[device.pk])
    page = client.get(change)
    assert page.status_code == 200
    assert device.key not in page.content.decode()
    config = reverse("admin:otp_totp_totpdevice_config", args=[device.pk])
    assert client.get(config).status_code == 403
    assert client.get(reverse("admin:otp_totp_totpdevice_add")).status_code == 403
    delete = reverse("admin:otp_totp_totpdevice_delete", args=[device.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()


# --- A first enrolment: the password, then a code sent to the user's mailbox --------


def test_a_first_enrolment_needs_the_password_then_the_mailed_code(world, client):
    user = world.user("cd23.dsi")
    TOTPDevice.objects.filter(user=user).delete()  # the administrator removed it
    client.force_login(user)

    # An open session alone enrols nothing.
    assert _post(client, "start").status_code == 409
    with pytest.raises(second_factor.ActionRefused):
        second_factor.enrolment_start(user=user)
    assert not TOTPDevice.objects.filter(user=user).exists()

    page = _post(client, "password", password="pas-le-bon")
    assert page.status_code == 400
    assert "Mot de passe incorrect" in page.content.decode()
    assert not Notification.objects.filter(kind="enrolment_code").exists()

    assert _post(client, "password", password=PASSWORD).status_code == 302
    message = Notification.objects.get(kind="enrolment_code")
    assert message.recipient_email == user.email
    # To the mailbox only: the session's own notification list does not show it.
    assert message.recipient_user is None
    assert _mailed_code(user) not in client.get("/notifications/").content.decode()
    assert "Étape 2 sur 2" in client.get(PAGE).content.decode()
    wrong = _post(client, "mail_code", mail_code="00000000")
    assert wrong.status_code == 400
    assert not TOTPDevice.objects.filter(user=user).exists()

    assert _post(client, "mail_code", mail_code=_mailed_code(user)).status_code == 302
    assert TOTPDevice.objects.filter(user=user, confirmed=False).exists()
    # The code served once.
    assert _post(client, "mail_code", mail_code=_mailed_code(user)).status_code == 400


def test_the_mailed_code_gives_up_after_five_wrong_tries(world, client):
    user = world.user("cd23.porteur")
    client.force_login(user)
    _post(client, "password", password=PASSWORD)
    code = _mailed_code(user)
    for _attempt in range(second_factor.MAILBOX_CODE_ATTEMPTS):
        _post(client, "mail_code", mail_code="12345678")
    response = _post(client, "mail_code", mail_code=code)
    assert response.status_code == 400
    assert "demandez-en un nouveau" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=user).exists()


def test_wrong_passwords_before_enrolment_count_like_failed_logins(
    world, client, settings
):
    user = world.user("cd23.porteur")
    client.force_login(user)
    for _attempt in range(settings.AXES_FAILURE_LIMIT):
        _post(client, "password", password="pas-le-bon")
    response = _post(client, "password", password=PASSWORD)
    assert response.status_code in (400, 403, 429)
    assert not Notification.objects.filter(kind="enrolment_code").exists()


def test_secret_messages_are_wiped_from_the_outbox_once_sent(world, client):
    from workflow import notifications

    user = world.user("cd23.porteur")
    client.force_login(user)
    _post(client, "password", password=PASSWORD)
    message = Notification.objects.get(kind="enrolment_code")
    code = _mailed_code(user)
    assert notifications.claim(message.pk)
    notifications.deliver(message.pk)

    sent = Notification.objects.get(pk=message.pk)
    assert code not in sent.body_text + sent.body_html
    assert sent.body_text == notifications.WIPED
    from django.core import mail

    assert code in mail.outbox[-1].body  # what the user received

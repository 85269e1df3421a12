"""What may be done to an incident, by whom: each service checks the role and the
organisation on the server, journals what it did and raises ActionRefused or
ValidationError with a French message."""

import re
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import ContactPoint, Organisation, Role
from incidents import clocks
from incidents.models import Escalation, Incident, IncidentUpdate, NumberSequence
from workflow import access, audit, routing
from workflow.calendars import add_working_days
from workflow.models import AuditEntry
from workflow.notifications import Recipient, notify
from workflow.transitions import ActionRefused, fire, log_move, required_text

# Who declares for a client: its DSI or its incident correspondent (annexe 1);
# the GSI records what it received by phone or e-mail, for any client.
DECLARING_ROLES = (Role.DSI_CLIENT, Role.CORRESPONDANT_INCIDENTS)
REGISTERING_ROLES = (Role.GSI,)
L = Incident.Level
# Who works an incident at each level (annexe 1, 2.2); the GSI, single entry
# point, may act at every level.
LEVEL_ROLES = {
    L.GSI: Role.GSI,
    L.SECOND: Role.SUPPORT_N2,
    L.THIRD: Role.SUPPORT_N3,
    L.CRISIS: Role.GESTION_CRISE,
}
SUPPORT_ROLES = tuple(LEVEL_ROLES.values())
# A crisis structure is set up for a major incident levels 2 and 3 did not solve.
CRISIS_FROM = (L.SECOND, L.THIRD)
CRISIS_GRAVITIES = (Incident.Gravity.CRITICAL, Incident.Gravity.MAJOR)
# Who writes in an incident's thread: the client's declaring roles, the support.
WRITING_ROLES = (*DECLARING_ROLES, *SUPPORT_ROLES)


def level_roles(incident: Incident) -> list:
    """Who acts on the incident at its current level: that level, or the GSI."""
    return sorted({LEVEL_ROLES[incident.level], Role.GSI})


DECLARATION_FIELDS = (
    "kind",
    "gravity",
    "reporter_name",
    "reporter_user_code",
    "reporter_phone",
    "reporter_email",
    "reporter_hours",
    "domain",
    "description",
    "context",
    "impact",
    "earlier_number",
    "detected_at",
    "qualified_at",
)
NUMBER = re.compile(r"INC-\d{4}-\d{5}")
# A clock a little ahead of the server's is not an error; a day ahead is.
CLOCK_SKEW = timedelta(minutes=5)


def _allocate_number(year: int) -> str:
    """The next dossier number of the year, e.g. INC-2026-00042."""
    try:
        with transaction.atomic():
            NumberSequence.objects.get_or_create(year=year)
    except IntegrityError:
        pass  # created meanwhile by a concurrent registration: lock it below
    sequence = NumberSequence.objects.select_for_update().get(year=year)
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    return f"INC-{year}-{sequence.last_number:05d}"


def _channel_for(by, organisation: Organisation, channel: str) -> str:
    """The channel the incident came in by, as the user may record it: a client
    declares it in Tandem; the GSI records a call or an e-mail."""
    if access.may_act_any(by, REGISTERING_ROLES, organisation):
        if channel not in (Incident.Channel.PHONE, Incident.Channel.EMAIL):
            message = _("Indiquez si l'incident a été reçu par téléphone ou courriel.")
            raise ValidationError({"channel": message})
        return channel
    access.require_any_role(by, DECLARING_ROLES, organisation)
    return Incident.Channel.PORTAL


def _check_times(fields: dict, *, by_client: bool, now) -> None:
    """A client's declaration says when the incident was detected (technical)
    or qualified (functional); no time is in the future."""
    errors = {}
    for name in ("detected_at", "qualified_at"):
        moment = fields.get(name)
        if moment is not None and moment > now + CLOCK_SKEW:
            errors[name] = _("Cette heure est dans le futur.")
    if by_client:
        if fields.get("kind") == Incident.Kind.TECHNICAL and not fields.get(
            "detected_at"
        ):
            errors.setdefault(
                "detected_at",
                _("Indiquez quand l'incident technique a été détecté."),
            )
        if fields.get("kind") == Incident.Kind.FUNCTIONAL and not fields.get(
            "qualified_at"
        ):
            errors.setdefault(
                "qualified_at",
                _("Indiquez quand l'incident fonctionnel a été qualifié."),
            )
    earlier = (fields.get("earlier_number") or "").strip().upper()
    if earlier and not NUMBER.fullmatch(earlier):
        errors["earlier_number"] = _(
            "Un numéro de dossier s'écrit INC-année-numéro, par exemple INC-2026-00042."
        )
    if errors:
        raise ValidationError(errors)


def incident_register(
    *, by, organisation: Organisation, channel: str = "", now=None, **fields
) -> Incident:
    """Register an incident: declared by a client user, or recorded by the GSI
    on behalf of a client. Its dossier number is given at once; the deadlines
    are set from the policy in force, which the incident keeps."""
    unknown = set(fields) - set(DECLARATION_FIELDS)
    if unknown:
        raise TypeError(f"unexpected fields: {sorted(unknown)}")
    if organisation.is_supplier:
        raise ValidationError(
            {
                "organisation": _(
                    "Un incident est déclaré pour un Conseil départemental."
                )
            }
        )
    channel = _channel_for(by, organisation, channel)
    now = now or timezone.now()
    _check_times(fields, by_client=channel == Incident.Channel.PORTAL, now=now)
    fields["earlier_number"] = (fields.get("earlier_number") or "").strip().upper()
    with transaction.atomic():
        policy = clocks.policy_in_force()
        incident = Incident(
            organisation=organisation,
            channel=channel,
            registered_at=now,
            registered_by=by,
            policy=policy,
            **clocks.registration_targets(policy, fields.get("kind"), now),
            **fields,
        )
        incident.number = _allocate_number(timezone.localtime(now).year)
        incident.full_clean(exclude=["status"])  # protected: moved by transitions
        incident.save()
        log_move(incident, "enregistrer", source="", target=incident.status, by=by)
        from incidents.flows import IncidentFlow  # the flow imports the services

        IncidentFlow.start.run(incident=incident)
        _announce_registration(incident)
    return incident


def _client_incident_contacts(incident: Incident) -> list:
    """The client's incident recipients: its contact points for incidents (annexe
    3: the DSI and the portal's webmaster) and its incident correspondents."""
    return [
        *routing.contact_points(incident.organisation, ContactPoint.Subject.INCIDENT),
        *routing.role_holders(Role.CORRESPONDANT_INCIDENTS, incident.organisation),
    ]


def _supplier_incident_contacts(*roles) -> list:
    """The CNAF's support mailbox (its incident contact point) and the people of
    `roles` (the GSI, the level that holds the incident)."""
    supplier = routing.supplier()
    recipients = routing.contact_points(supplier, ContactPoint.Subject.INCIDENT)
    for role in roles:
        recipients += routing.role_holders(role, supplier)
    return recipients


def _announce_registration(incident: Incident) -> None:
    """The whole declaration, with its dossier number, to both sides' incident
    contact points and to the GSI."""
    notify(
        event=f"incident_registered:{incident.pk}",
        kind="incident_registered",
        organisation=incident.organisation,
        recipients=[
            *_client_incident_contacts(incident),
            *_supplier_incident_contacts(Role.GSI),
        ],
        context={"incident": incident},
        link=incident.get_absolute_url(),
    )


def _locked(pk: int) -> Incident:
    return Incident.objects.select_for_update().get(pk=pk)


def _require_level_holder(by, incident: Incident) -> None:
    access.require_any_role(by, level_roles(incident), incident.organisation)


def incident_take_in(
    *, pk: int, by, kind: str = "", gravity: str = "", comment: str = "", now=None
) -> Incident:
    """The GSI takes the incident in (the acknowledgement), qualifying its type
    and gravity: a type corrected sets the deadlines again, from the policy the
    incident kept and its registration time."""
    with transaction.atomic():
        incident = _locked(pk)
        access.require_role(by, Role.GSI, incident.organisation)
        kind = kind or incident.kind
        if kind not in Incident.Kind.values:
            raise ValidationError({"kind": _("Type d'incident inconnu.")})
        if gravity and gravity not in Incident.Gravity.values:
            raise ValidationError({"gravity": _("Gravité inconnue.")})
        if kind != incident.kind:
            incident.kind = kind
            targets = clocks.registration_targets(
                incident.policy, kind, incident.registered_at
            )
            for name, value in targets.items():
                setattr(incident, name, value)
        incident.gravity = gravity or incident.gravity
        incident.taken_in_at = now or timezone.now()
        incident.taken_in_by = by
        fire(incident, "take_in", by=by, comment=comment)
    return incident


def incident_inform(*, pk: int, by, body: str) -> IncidentUpdate:
    """A message of the information thread, from either side."""
    body = required_text(body, _("Écrivez le message."))
    with transaction.atomic():
        incident = _locked(pk)
        access.require_any_role(by, WRITING_ROLES, incident.organisation)
        if incident.status == Incident.Status.CLOSED:
            raise ActionRefused(
                _("L'incident est clos : il ne reçoit plus de message.")
            )
        update = IncidentUpdate.objects.create(incident=incident, author=by, body=body)
        # To the other side: the client's incident contacts, or the CNAF's
        # support mailbox and the level that holds the incident.
        if access.may_act_any(by, SUPPORT_ROLES, incident.organisation):
            recipients = _client_incident_contacts(incident)
        else:
            recipients = _supplier_incident_contacts(LEVEL_ROLES[incident.level])
        notify(
            event=f"incident_update:{update.pk}",
            kind="incident_update",
            organisation=incident.organisation,
            recipients=recipients,
            context={"incident": incident, "update": update},
            link=incident.get_absolute_url(),
        )
        return update


def incident_escalate(*, pk: int, by, level: str, reason: str) -> Escalation:
    """Move the incident to another level (up or back), with the reason."""
    reason = required_text(reason, _("Indiquez le motif de l'escalade."))
    if level not in L.values:
        raise ValidationError({"level": _("Niveau inconnu.")})
    with transaction.atomic():
        incident = _locked(pk)
        _require_level_holder(by, incident)
        if incident.status not in (
            Incident.Status.TAKEN_IN,
            Incident.Status.WORKAROUND,
        ):
            raise ActionRefused(
                _(
                    "Seul un incident pris en compte et pas encore remis en "
                    "service change de niveau."
                )
            )
        if level == incident.level:
            raise ActionRefused(_("L'incident est déjà à ce niveau."))
        if level == L.CRISIS and (
            incident.level not in CRISIS_FROM
            or incident.gravity not in CRISIS_GRAVITIES
        ):
            raise ActionRefused(
                _(
                    "La cellule de crise est réservée à un incident critique ou "
                    "majeur que les niveaux 2 et 3 n'ont pas résolu."
                )
            )
        hop = Escalation.objects.create(
            incident=incident,
            from_level=incident.level,
            to_level=level,
            reason=reason,
            by=by,
        )
        incident.level = level
        incident.save(update_fields=["level"])
        audit.record(
            AuditEntry.Action.TRANSITION,
            by=by,
            subject=incident,
            transition="escalader",
            source=f"niveau {hop.from_level}",
            target=f"niveau {hop.to_level}",
            comment=reason,
        )
    return hop


def incident_work_around(*, pk: int, by, scope: str, workaround: str, now=None):
    """A temporary workaround gives the service back, partly or fully."""
    workaround = required_text(workaround, _("Décrivez la solution de contournement."))
    if scope not in Incident.WorkaroundScope.values:
        raise ValidationError(
            {
                "workaround_scope": _(
                    "Indiquez si le retour au service est partiel ou total."
                )
            }
        )
    with transaction.atomic():
        incident = _locked(pk)
        _require_level_holder(by, incident)
        incident.workaround_scope = scope
        incident.workaround = workaround
        incident.workaround_at = incident.workaround_at or now or timezone.now()
        fire(incident, "work_around", by=by, comment=workaround)
    return incident


def incident_restore(*, pk: int, by, resolution: str, now=None) -> Incident:
    """The service is back: the client is asked to confirm it."""
    resolution = required_text(resolution, _("Décrivez la résolution."))
    with transaction.atomic():
        incident = _locked(pk)
        _require_level_holder(by, incident)
        incident.resolution = resolution
        incident.service_back_at = now or timezone.now()
        fire(incident, "restore", by=by, comment=resolution)
    return incident


def incident_confirm(*, pk: int, by, comment: str = "", now=None) -> Incident:
    """The client confirms the return to service, which closes the incident."""
    with transaction.atomic():
        incident = _locked(pk)
        access.require_any_role(by, DECLARING_ROLES, incident.organisation)
        incident.confirmed_at = incident.closed_at = now or timezone.now()
        fire(incident, "confirm", by=by, comment=comment)
    return incident


def incident_reopen(*, pk: int, by, reason: str) -> Incident:
    """The client says the service is not back: the incident is worked again."""
    reason = required_text(reason, _("Indiquez pourquoi le service n'est pas rétabli."))
    with transaction.atomic():
        incident = _locked(pk)
        access.require_any_role(by, DECLARING_ROLES, incident.organisation)
        incident.service_back_at = None
        fire(incident, "reopen", by=by, comment=reason)
    return incident


def confirmation_due(incident: Incident):
    """The last day the client has to confirm a service back, in the client's
    working days (TANDEM_INCIDENT_CONFIRM_DAYS)."""
    back = timezone.localtime(incident.service_back_at).date()
    return add_working_days(
        back,
        settings.TANDEM_INCIDENT_CONFIRM_DAYS,
        incident.organisation.departement,
    )


def incident_close_unanswered(*, pk: int, now=None) -> Incident | None:
    """Close an incident whose service back the client left unanswered past
    its confirmation days (beat); None when it is not due (or answered)."""
    now = now or timezone.now()
    with transaction.atomic():
        incident = _locked(pk)
        if incident.status != Incident.Status.SERVICE_BACK:
            return None
        if timezone.localtime(now).date() <= confirmation_due(incident):
            return None
        incident.closed_at = now
        incident.closed_automatically = True
        fire(
            incident,
            "close_unanswered",
            by=None,
            comment=_("Clos sans réponse du client après %(days)s jours ouvrés.")
            % {"days": settings.TANDEM_INCIDENT_CONFIRM_DAYS},
        )
        _end_process(incident)
    return incident


def _end_process(incident: Incident) -> None:
    """Cancel the open task of an incident closed outside its flow."""
    from viewflow.workflow.status import PROCESS

    from incidents.flows import IncidentFlow
    from incidents.models import IncidentProcess

    process = IncidentProcess.objects.filter(incident=incident).first()
    if process is not None and process.status not in (PROCESS.DONE, PROCESS.CANCELED):
        with IncidentFlow.lock(process.pk):
            IncidentFlow.instance.cancel(process)


def incident_flag_interruption(*, pk: int, by, start, end=None, now=None) -> Incident:
    """Record that the incident was a service interruption (the application
    could not serve at least one of its functions), from `start` to `end`
    (None: still under way). Counted per semester against the contract's 2."""
    now = now or timezone.now()
    errors = {}
    if start is None:
        errors["interruption_start"] = _("Indiquez quand l'interruption a commencé.")
    elif start > now + CLOCK_SKEW:
        errors["interruption_start"] = _("Cette heure est dans le futur.")
    if end is not None and start is not None and end < start:
        errors["interruption_end"] = _("L'interruption doit commencer avant de finir.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        incident = _locked(pk)
        access.require_any_role(by, SUPPORT_ROLES, incident.organisation)
        incident.interruption = True
        incident.interruption_start, incident.interruption_end = start, end
        incident.save(
            update_fields=["interruption", "interruption_start", "interruption_end"]
        )
        audit.record(
            AuditEntry.Action.TRANSITION,
            by=by,
            subject=incident,
            transition="interruption",
            source="",
            target=f"{start.isoformat()} – {end.isoformat() if end else '…'}",
        )
    return incident


def incident_mark_recurring(*, pk: int, by, of_number: str) -> Incident:
    """Link the incident to the group of a recurring one ("récurrent de
    INC-…"): the group is named by its first incident."""
    of_number = (of_number or "").strip().upper()
    with transaction.atomic():
        incident = _locked(pk)
        access.require_role(by, Role.GSI, incident.organisation)
        other = Incident.objects.filter(number=of_number).first()
        if other is None or not NUMBER.fullmatch(of_number):
            raise ValidationError(
                {"recurring_of": _("Aucun incident ne porte ce numéro de dossier.")}
            )
        root = other.recurring_of or other
        if root.pk == incident.pk or other.pk == incident.pk:
            raise ValidationError(
                {"recurring_of": _("Un incident n'est pas récurrent de lui-même.")}
            )
        incident.recurring_of = root
        incident.save(update_fields=["recurring_of"])
        # Its own recurrences join the group too: one level, named by the root.
        incident.recurrences.update(recurring_of=root)
        audit.record(
            AuditEntry.Action.TRANSITION,
            by=by,
            subject=incident,
            transition="recurrent",
            source="",
            target=root.number,
        )
    return incident


# The shares of a target's time at which its warnings go out (beat).
WARNING_THRESHOLDS = (75, 100)


def _open_task_owners(incident: Incident) -> list:
    from viewflow.workflow.models import Task
    from viewflow.workflow.status import STATUS

    owners = Task.objects.filter(
        process__incidentprocess__incident=incident,
        status__in=[STATUS.NEW, STATUS.ASSIGNED, STATUS.STARTED],
        owner__isnull=False,
    ).select_related("owner")
    return [
        Recipient(task.owner.email, task.owner) for task in owners if task.owner.email
    ]


def incident_clock_warnings(now=None) -> int:
    """At 75 % and 100 % of a running target (taking in, service back), tell the
    holder of the incident's task and the level's pool; at 100 % the CNAF's DSI
    too. Once per incident, target and threshold (the event names them: one
    already written is not worked out again); returns how many messages were
    written."""
    from workflow.models import Notification

    now = now or timezone.now()
    events = {}  # event → (incident, target, due, pool, threshold)
    running = Incident.objects.filter(status__in=Incident.OPEN).select_related(
        "organisation"
    )
    for incident in running.order_by("pk"):
        clock = clocks.Clock(incident.policy)
        targets = []
        if incident.status == Incident.Status.REGISTERED and incident.take_in_due:
            targets.append((clocks.TAKE_IN, incident.take_in_due, Role.GSI))
        if incident.service_back_due:
            pool = LEVEL_ROLES[incident.level]
            targets.append((clocks.SERVICE_BACK, incident.service_back_due, pool))
        for target, due, pool in targets:
            share = clock.share(target, incident.registered_at, due, now)
            for threshold in WARNING_THRESHOLDS:
                if share * 100 >= threshold:
                    event = f"incident_clock:{incident.pk}:{target}:{threshold}"
                    events[event] = (incident, target, due, pool, threshold)
    sent = set(
        Notification.objects.filter(event__in=list(events)).values_list(
            "event", flat=True
        )
    )
    supplier = routing.supplier()
    holders: dict = {}
    written = 0
    for event, (incident, target, due, pool, threshold) in events.items():
        if event in sent:
            continue
        roles = (pool, Role.DSI_FOURNISSEUR) if threshold == 100 else (pool,)
        for role in roles:
            if role not in holders:
                holders[role] = routing.role_holders(role, supplier)
        written += notify(
            event=event,
            kind="incident_clock",
            organisation=incident.organisation,
            recipients=[
                *_open_task_owners(incident),
                *(recipient for role in roles for recipient in holders[role]),
            ],
            context={
                "incident": incident,
                "target": target,
                "due": due,
                "threshold": threshold,
            },
            link=incident.get_absolute_url(),
        )
    return written


def incidents_close_unanswered(now=None) -> list[Incident]:
    """Close (beat) the incidents whose service back the client left unanswered
    past TANDEM_INCIDENT_CONFIRM_DAYS working days, telling the client."""
    now = now or timezone.now()
    # Working days are at least as many calendar days: the rest are not due.
    candidates = Incident.objects.filter(
        status=Incident.Status.SERVICE_BACK,
        service_back_at__lte=now
        - timedelta(days=settings.TANDEM_INCIDENT_CONFIRM_DAYS),
    ).values_list("pk", flat=True)
    closed = []
    for pk in list(candidates):
        incident = incident_close_unanswered(pk=pk, now=now)
        if incident is None:
            continue
        closed.append(incident)
        notify(
            event=f"incident_closed_unanswered:{incident.pk}",
            kind="incident_closed_unanswered",
            organisation=incident.organisation,
            recipients=_client_incident_contacts(incident),
            context={
                "incident": incident,
                "days": settings.TANDEM_INCIDENT_CONFIRM_DAYS,
            },
            link=incident.get_absolute_url(),
        )
    return closed

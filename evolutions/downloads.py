"""Downloads of a change request's files and PDF documents, under the access rules:
a request the user may not see is a 404, whatever its files."""

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from evolutions import pdf
from evolutions.selectors import change_requests_visible_to
from workflow.responses import pdf_response
from workflow.uploads import file_download_response


def _visible(request, pk: int):
    return get_object_or_404(change_requests_visible_to(request.user), pk=pk)


def attachment_download(request, pk: int, attachment_pk: int):
    attachment = get_object_or_404(
        _visible(request, pk).attachments.all(), pk=attachment_pk
    )
    return file_download_response(
        attachment.file, download_name=attachment.original_name
    )


def specification_document(request, pk: int, version: int):
    specification = get_object_or_404(
        _visible(request, pk).specifications.all(), version=version
    )
    if not specification.document:
        raise Http404
    return file_download_response(
        specification.document, download_name=specification.document_name
    )


def quote_document(request, pk: int, version: int):
    quote = get_object_or_404(_visible(request, pk).quotes.all(), version=version)
    if not quote.document:
        raise Http404
    return file_download_response(quote.document, download_name=quote.document_name)


def _name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user else ""


def needs_expression_pdf(request, pk: int):
    change_request = _visible(request, pk)
    data = pdf.NeedsExpressionData(
        reference=change_request.reference,
        organisation=str(change_request.organisation),
        title=change_request.title,
        kind=change_request.get_kind_display(),
        data_flows=tuple(
            str(dict(change_request.DataFlow.choices).get(flow, flow))
            for flow in change_request.data_flows
        ),
        description=change_request.description,
        expected_benefit=change_request.expected_benefit,
        wished_date=change_request.wished_date,
        request_owner=_name(change_request.request_owner),
        status=change_request.get_status_display(),
        submitted_at=change_request.submitted_at,
        version=timezone.localtime(
            change_request.submitted_at or change_request.created_at
        ).strftime("Version du %d/%m/%Y"),
    )
    content = pdf.needs_expression_pdf(data, generated_at=timezone.now())
    return pdf_response(
        content,
        f"{change_request.reference}-expression-de-besoin.pdf",
        subject=change_request,
    )


def quote_pdf(request, pk: int, version: int):
    change_request = _visible(request, pk)
    quote = get_object_or_404(
        change_request.quotes.select_related("author"), version=version
    )
    data = pdf.QuoteData(
        reference=change_request.reference,
        organisation=str(change_request.organisation),
        change_request_title=change_request.title,
        version=quote.version,
        man_days=quote.man_days,
        amount=quote.amount,
        valid_until=quote.valid_until,
        author=_name(quote.author),
        issued_at=quote.issued_at,
        decision=quote.get_decision_display(),
        decision_comment=quote.decision_comment,
    )
    content = pdf.quote_pdf(data, generated_at=timezone.now())
    return pdf_response(
        content,
        f"{change_request.reference}-devis-v{quote.version}.pdf",
        subject=change_request,
    )

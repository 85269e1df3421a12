"""Responses shared by the pages of both processes."""

import hashlib

from django.http import HttpResponse
from django.shortcuts import render


def pdf_response(content: bytes, filename: str, *, subject=None) -> HttpResponse:
    """A generated PDF, downloaded (never cached, never sniffed), and journalled
    (workflow.middleware.AuditMiddleware) with its SHA-256."""
    response = HttpResponse(content, content_type="application/pdf")
    response.audit = {
        "action": "document",
        "subject": subject,
        "filename": filename,
        "sha256": hashlib.sha256(content).hexdigest(),
    }
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def refused(
    request, reason: str, *, subject=None, status: int = 409, link=None, link_label=""
):
    """The page telling why an action was refused; nothing was saved. `link`: where
    the user can lift the obstacle (e.g. enrol a device)."""
    return render(
        request,
        "workflow/refused.html",
        {
            "reason": reason,
            "subject": subject,
            "link": link,
            "link_label": link_label,
        },
        status=status,
    )

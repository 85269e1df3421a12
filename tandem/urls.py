from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponsePermanentRedirect
from django.urls import include, path, re_path
from django.utils.translation import gettext_lazy as _
from django.views.i18n import JavaScriptCatalog
from viewflow.contrib.auth import AuthViewset

from tandem.site import site
from workflow import health
from workflow.forms import LoginForm
from workflow.passwords import (
    PasswordChangeView,
    PasswordResetConfirmView,
    PasswordResetView,
)
from workflow.urls import resolutions_kept


class TandemAuthViewset(AuthViewset):
    """viewflow's login, logout and password pages, with our login form, the
    password change throttled like a login and the reset e-mail sent through the
    outbox (workflow.passwords)."""

    pass_change_view_class = PasswordChangeView
    pass_reset_view_class = PasswordResetView
    pass_reset_confirm_view_class = PasswordResetConfirmView

    def get_login_view_kwargs(self, **kwargs):
        return super().get_login_view_kwargs(form_class=LoginForm, **kwargs)


def former_task_address(request, flow: str, rest: str):
    """Task links sent before the task pages moved (e-mails keep them): the same
    page under its new prefix."""
    query = request.META.get("QUERY_STRING", "")
    target = f"/taches-{flow}s/{rest}" + (f"?{query}" if query else "")
    return HttpResponsePermanentRedirect(target)


admin.site.site_header = _("Tandem – administration")
admin.site.site_title = _("Tandem")

# A refusal's reason is shown when Tandem worded it, never viewflow's internals.
handler403 = "workflow.views.permission_denied"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", TandemAuthViewset(with_profile_view=False).urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path(
        "jsi18n/",
        login_not_required(JavaScriptCatalog.as_view()),
        name="javascript-catalog",
    ),
    # For the monitoring probe: no login, no data (workflow/health.py).
    path("sante/", login_not_required(health.health), name="health"),
    re_path(
        r"^(?P<flow>evolution|recette)/(?P<rest>.*)$",
        former_task_address,
        name="former_task_address",
    ),
    # Each address resolved once per worker (workflow.urls.resolutions_kept).
    resolutions_kept(path("", site.urls)),
]
# Uploaded files are never served as static media: downloads go through views that
# apply the access rules.

from django.contrib import admin

from workflow.models import AnonymousRefusal, AuditEntry, Heartbeat, StepDeadline


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "seen_at", "hostname"]


@admin.register(StepDeadline)
class StepDeadlineAdmin(admin.ModelAdmin):
    list_display = ["step", "working_days"]
    search_fields = ["step"]


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit journal, read-only: it is appended by the application only."""

    list_display = ["seq", "at", "action", "actor", "organisation", "subject_type"]
    list_filter = ["action", "organisation"]
    search_fields = ["actor", "subject_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AnonymousRefusal)
class AnonymousRefusalAdmin(admin.ModelAdmin):
    """Refusals of anonymous requests, counted per day, path and address: read-only,
    counted by the application (workflow.middleware.count_refusal)."""

    list_display = ["day", "status", "path", "address", "count", "last_at"]
    list_filter = ["day", "status"]
    search_fields = ["path", "address"]
    date_hierarchy = "day"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# Accounts, and the journal of every change saved in the admin.
from workflow import accounts_admin  # noqa: E402,F401

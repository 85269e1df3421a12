from django.contrib import admin

from workflow.models import AuditEntry, Heartbeat, StepDeadline


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

from django.contrib import admin

from workflow.models import Heartbeat, StepDeadline


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "seen_at", "hostname"]


@admin.register(StepDeadline)
class StepDeadlineAdmin(admin.ModelAdmin):
    list_display = ["step", "working_days"]
    search_fields = ["step"]

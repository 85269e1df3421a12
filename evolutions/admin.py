from django.contrib import admin

from contacts.admin import ReferenceDeletionAdmin
from evolutions.models import Release


@admin.register(Release)
class ReleaseAdmin(ReferenceDeletionAdmin):
    list_display = [
        "number",
        "title",
        "recette_start",
        "recette_end",
        "production_date",
    ]
    search_fields = ["number", "title"]

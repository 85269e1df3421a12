from django.contrib import admin

from evolutions.models import Release


@admin.register(Release)
class ReleaseAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "title",
        "recette_start",
        "recette_end",
        "production_date",
    ]
    search_fields = ["number", "title"]

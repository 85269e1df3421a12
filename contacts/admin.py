from django.contrib import admin

from contacts.models import ContactPoint, Membership, Organisation, Person, SupportHours


class SupportHoursInline(admin.TabularInline):
    model = SupportHours
    extra = 0


class ContactPointInline(admin.TabularInline):
    model = ContactPoint
    extra = 0
    autocomplete_fields = ["person"]


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind"]
    list_filter = ["kind"]
    search_fields = ["code", "name"]
    inlines = [ContactPointInline, SupportHoursInline]


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ["last_name", "first_name", "organisation", "function", "email"]
    list_filter = ["organisation__kind"]
    search_fields = [
        "last_name",
        "first_name",
        "email",
        "user_code",
        "organisation__code",
    ]
    autocomplete_fields = ["organisation", "user"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organisation", "role"]
    list_filter = ["role", "organisation__kind"]
    search_fields = ["user__username", "user__last_name", "organisation__code"]
    autocomplete_fields = ["organisation", "user"]


@admin.register(ContactPoint)
class ContactPointAdmin(admin.ModelAdmin):
    list_display = ["organisation", "subject", "label", "person", "mailbox", "phone"]
    list_filter = ["subject", "organisation__kind"]
    search_fields = ["label", "mailbox", "organisation__code", "organisation__name"]
    autocomplete_fields = ["organisation", "person"]


@admin.register(SupportHours)
class SupportHoursAdmin(admin.ModelAdmin):
    list_display = ["organisation", "weekday", "opens", "closes"]
    list_filter = ["weekday", "organisation__kind"]
    search_fields = ["organisation__code", "organisation__name"]
    autocomplete_fields = ["organisation"]

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "nickname", "phone", "email", "is_staff", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active", "groups", "phone_verified")
    search_fields = ("username", "nickname", "phone", "email")
    ordering = ("-date_joined",)
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (_("Profile"), {"fields": ("phone", "phone_verified", "nickname", "avatar")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "phone", "password1", "password2")}),
    )


# The audit trail's read-only pages (money and stock models of other apps).
from tuangou import audit_admin  # noqa: E402

audit_admin.register()

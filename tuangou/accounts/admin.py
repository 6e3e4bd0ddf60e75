from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.utils.translation import gettext_lazy as _

from .models import User


class UserAdminForm(UserChangeForm):
    """An avatar goes through the uploads' one check (catalog.images.process_upload):
    a picture by its content, within the limits, re-encoded without metadata
    (a plain file field: Django's image field would decode it first)."""

    avatar = forms.FileField(
        label=_("avatar"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/*"}),
    )

    def clean_avatar(self):
        from django.core.files.uploadedfile import UploadedFile

        from leaders.images import prepare_photo

        avatar = self.cleaned_data.get("avatar")
        if isinstance(avatar, UploadedFile):
            try:
                return prepare_photo(avatar, name="avatar.jpg")
            except forms.ValidationError as exc:
                raise forms.ValidationError(exc.messages, code="bad_image") from None
        return avatar


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = UserAdminForm
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

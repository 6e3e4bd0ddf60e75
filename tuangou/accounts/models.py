from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils.translation import gettext_lazy as _

from .phone import mask_phone


class UserQuerySet(models.QuerySet):
    """Bulk writes on users make the cached users stale (accounts.user_cache):
    no post_save is sent for them. Those of a queryset filtered by primary
    key (`filter(pk=…, …)`, `filter(pk__in=…)`) only, any other every one."""

    def _only_pks(self) -> list | None:
        where = self.query.where
        if where.connector != "AND" or where.negated:
            return None
        pk = self.model._meta.pk
        for child in where.children:
            target = getattr(getattr(child, "lhs", None), "target", None)
            rhs = getattr(child, "rhs", None)
            if target is not pk or hasattr(rhs, "query") or hasattr(rhs, "resolve_expression"):
                continue
            if child.lookup_name == "exact":
                return [rhs]
            if child.lookup_name == "in":
                return list(rhs)
        return None

    def update(self, **kwargs):
        from . import user_cache

        pks = self._only_pks()
        rows = super().update(**kwargs)
        if pks is None:
            user_cache.all_changed()
        else:
            for pk in pks:
                user_cache.changed(user_id=pk)
        return rows

    update.alters_data = True

    def delete(self):
        from . import user_cache

        deleted = super().delete()
        user_cache.all_changed()
        return deleted

    delete.alters_data = True

    def bulk_update(self, objs, fields, batch_size=None):
        from . import user_cache

        rows = super().bulk_update(objs, fields, batch_size=batch_size)
        user_cache.all_changed()
        return rows


class CachedUserManager(UserManager.from_queryset(UserQuerySet)):
    """Django's UserManager over UserQuerySet. Migrations keep seeing
    Django's UserManager (the queryset adds no database state)."""

    def deconstruct(self):
        return False, "django.contrib.auth.models.UserManager", None, (), {}

    def __eq__(self, other):
        # The migration state's UserManager() and this one are the same manager.
        return isinstance(other, UserManager) and self._constructor_args == other._constructor_args

    __hash__ = UserManager.__hash__


class User(AbstractUser):
    """One person: shopper, leader, driver or staff. Roles are groups.

    The phone is stored in E.164 (+8613800138000); a WeChat user may have none
    yet, so it is nullable but unique when present.
    """

    phone = models.CharField(_("phone"), max_length=20, unique=True, null=True, blank=True)
    phone_verified = models.BooleanField(_("phone verified"), default=False)
    nickname = models.CharField(_("nickname"), max_length=40, blank=True)
    avatar = models.ImageField(_("avatar"), upload_to="avatars/%Y/%m/", blank=True)

    objects = CachedUserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.public_name or self.username

    @property
    def public_name(self) -> str:
        """What people are shown: the nickname or the masked phone (138****8000),
        never the internal username; '' when there is neither."""
        return self.nickname or mask_phone(self.phone or "")

    @property
    def phone_last4(self) -> str:
        return self.phone[-4:] if self.phone else ""

    def has_role(self, role: str) -> bool:
        return self.is_superuser or self.groups.filter(name=role).exists()


def public_name(user) -> str:
    """ACCOUNT_USER_DISPLAY: how allauth's pages and messages name a person."""
    return getattr(user, "public_name", "")

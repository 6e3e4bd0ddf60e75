"""Every admin action checks a permission (issue #15, security 5).

Django offers an action without `allowed_permissions` to anyone who may open
the change list, a view-only reader included, and runs it when posted. An
action changes things: here one that names no permission needs the model's
change permission. Actions that should need more (or less, like an export
needing only view) say so with @admin.action(permissions=[...]).
"""

from __future__ import annotations

DEFAULT_ACTION_PERMISSIONS = ("change",)


def _action_functions(model_admin):
    for action in model_admin.actions or ():
        func = getattr(model_admin, action, None) if isinstance(action, str) else action
        if func is not None:
            yield getattr(func, "__func__", func)


def require_permission_for_actions(site) -> list[str]:
    """Give every action of `site` that names no permission the change permission.
    Returns "app.Model.action" of those it changed."""
    changed = []
    for model, model_admin in site._registry.items():
        for func in _action_functions(model_admin):
            if not getattr(func, "allowed_permissions", None):
                func.allowed_permissions = DEFAULT_ACTION_PERMISSIONS
                changed.append(f"{model._meta.label}.{func.__name__}")
    return changed

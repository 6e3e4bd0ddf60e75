"""The whole URLconf as a list of routes, and concrete paths for them.

Shared by tests/test_url_permissions.py (who may enter) and
tests/test_hostile_inputs.py (no input gives a 500): both walk every route
django.urls.get_resolver() knows, recursively through includes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver


@dataclass(frozen=True)
class Route:
    route: str
    name: str | None
    view: str
    pattern: object


def _walk(resolver, prefix: str = "", ns: str | None = None):
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            inner = f"{ns}:{p.namespace}" if ns and p.namespace else (p.namespace or ns)
            yield from _walk(p, prefix + str(p.pattern), inner)
        elif isinstance(p, URLPattern):
            view = f"{getattr(p.callback, '__module__', '?')}.{p.callback.__name__}"
            yield Route(prefix + str(p.pattern), p.name, view, p.pattern)


def all_routes() -> list[Route]:
    return list(_walk(get_resolver()))


_DUMMIES = {"int": "999999", "slug": "x0000000000", "str": "X0000000000", "path": "999999"}
_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


def route_params(route: str) -> list[tuple[str, str]]:
    """(converter, name) of each <converter:name> of a route, in order."""
    return [(m.group(1) or "str", m.group(2)) for m in _PARAM.finditer(route)]


def concrete_url(route: str, values: dict[str, str] | None = None) -> str:
    """A path for a route: each parameter from `values` by name, else a dummy."""
    values = values or {}

    def fill(m):
        if m.group(2) in values:
            return str(values[m.group(2)])
        return _DUMMIES.get(m.group(1) or "str", "X0000000000")

    path = _PARAM.sub(fill, route)
    if path.startswith("^"):
        # Regex routes (admin's and allauth's few): fill the groups by hand.
        path = re.sub(r"\(\?P<(\w+)>[^)]*\)", "999999", path)
        path = path.lstrip("^").rstrip("$").replace("\\", "")
    path = path.replace("^", "").replace("$", "")
    return "/" + path


def dummy_url(route: str) -> str:
    """A concrete path for a route with dummy values for its parameters."""
    return concrete_url(route)

"""Rich text of product descriptions: what HTML an operator may use."""

from __future__ import annotations

import nh3

_ALLOWED_TAGS = {"p", "br", "strong", "b", "em", "i", "u", "ul", "ol", "li", "h3", "h4", "img"}
_ALLOWED_ATTRIBUTES = {"img": {"src", "alt", "width", "height"}}


def sanitize_description(html: str) -> str:
    """Keep simple formatting and pictures; drop scripts, styles, handlers, links."""
    return nh3.clean(
        html or "",
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https"},
        strip_comments=True,
    ).strip()

"""The home page's shelf as HTML, rendered once per catalog version and kept
in the storefront cache; only the stock figures are filled in per request
(issue #11: rendering the cards was most of the home page's time).

A product card is the same for everyone except for its stock: how many are
sold and left, the progress bar, and whether it is sold out (which also
decides the lead SKU, the cheapest one still available). So each card is
rendered from `catalog/_card.html` once per possible (lead SKU, sold out)
pair with markers where the figures go, and split at the markers into
`Frame`s; a request picks the frame its fresh stock calls for and joins it
with the figures (`fill`). The cards are the same markup as the category
and search pages render with the template (the same `_card.html`), which
`tests/catalog/test_home_shelf.py` checks byte for byte.

What the cache holds is rebuilt whenever the storefront version changes
(every catalog write bumps it: catalog/storefront_cache.py), per language
and page. The chips of the top categories, the search form and the "load
more" link of the page are in the same entry: the page reads them in the
same round trip.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass

from django.conf import settings
from django.template.loader import get_template
from django.urls import reverse
from django.utils import formats
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe

from . import selectors
from .models import Product

_MARK = "\x1f"
# What the card template shows per request, and the attribute it reads.
_FIGURES = ("sold", "remaining", "percent_sold")
_SPLIT = re.compile(f"{_MARK}({'|'.join(_FIGURES)}){_MARK}")

# Bumped when the Shelf's layout changes; the templates' own text is hashed
# (a deploy that edits a card must not read frames rendered by the old one).
SHELF_FORMAT = 1
_TEMPLATES = (
    "catalog/_card.html",
    "catalog/_picture.html",
    "catalog/_load_more.html",
    "catalog/_category_chips.html",
    "catalog/_search_form.html",
)

# A card split at the figures: static text at even positions, a figure's
# name at odd ones.
Frame = tuple[str, ...]


@dataclass
class Shelf:
    """One page of the home shelf as the cache keeps it."""

    rows: list[Product]
    has_next: bool
    # product pk -> (lead SKU pk, sold out) -> frame
    frames: dict[int, dict[tuple[int | None, bool], Frame]]
    tail: str  # the "load more" link, or ""
    chips: str  # the top categories
    search_form: str


class _FrameCard(selectors.ProductCard):
    """A card whose lead SKU and sold-out state are fixed, figures are markers."""

    sold_out: bool = False

    @property
    def is_sold_out(self) -> bool:
        return self.sold_out

    @property
    def sold(self):
        return f"{_MARK}sold{_MARK}"

    @property
    def remaining(self):
        return f"{_MARK}remaining{_MARK}"

    @property
    def percent_sold(self):
        return f"{_MARK}percent_sold{_MARK}"


def _frame_keys(product: Product) -> list[tuple[object | None, bool]]:
    """Every (lead SKU, sold out) a request can ask for: any SKU may lead while
    something is left; when all are sold out the cheapest leads."""
    skus = list(product.active_skus)
    if not skus:
        return [(None, True)]
    cheapest = min(skus, key=lambda s: (s.price, s.position, s.pk))
    return [*((sku, False) for sku in skus), (cheapest, True)]


def _frames(product: Product, template) -> dict[tuple[int | None, bool], Frame]:
    frames = {}
    for sku, sold_out in _frame_keys(product):
        options = (
            [selectors.SkuOption(sku=sku, delivery_date=None, remaining=0, sold=0)] if sku else []
        )
        card = _FrameCard(product=product, options=options, images=product.all_images)
        card.sold_out = sold_out
        html = template.render({"card": card})
        frames[(sku.pk if sku else None, sold_out)] = tuple(_SPLIT.split(html))
    return frames


@functools.cache
def _fingerprint() -> str:
    digest = hashlib.sha256(str(SHELF_FORMAT).encode())
    for name in _TEMPLATES:
        digest.update(get_template(name).template.source.encode())
    return digest.hexdigest()[:8]


def cache_name(*, language: str, page: int) -> str:
    """The storefront cache entry of a page of the shelf in a language."""
    return f"shelf:{_fingerprint()}:{language}:{page}"


def build(*, page: int) -> Shelf:
    """Render the shelf's page (queries on a cache miss only)."""
    rows, has_next = selectors.home_rows(page=page)
    card = get_template("catalog/_card.html")
    more_url = f"{reverse('catalog:home')}?{urlencode({'page': page + 1})}" if has_next else None
    return Shelf(
        rows=rows,
        has_next=has_next,
        frames={product.pk: _frames(product, card) for product in rows},
        tail=get_template("catalog/_load_more.html").render({"more_url": more_url}),
        chips=get_template("catalog/_category_chips.html").render(
            {"categories": selectors.top_categories()}
        ),
        search_form=get_template("catalog/_search_form.html").render({}),
    )


def _figure(value: int) -> str:
    # What the template would print for an int (no thousands separator by default).
    return formats.localize(value) if settings.USE_THOUSAND_SEPARATOR else str(value)


def fill(frame: Frame, card: selectors.ProductCard) -> str:
    figures = {
        "sold": _figure(card.sold),
        "remaining": _figure(card.remaining),
        "percent_sold": _figure(card.percent_sold),
    }
    parts = list(frame)
    parts[1::2] = [figures[name] for name in frame[1::2]]
    return "".join(parts)


def cards_html(shelf: Shelf, cards: list[selectors.ProductCard]) -> SafeString:
    """The page's cards with today's stock, and its "load more" link."""
    out = []
    template = None
    for card in cards:
        lead = card.lead
        frame = shelf.frames.get(card.product.pk, {}).get(
            (lead.sku.pk if lead else None, card.is_sold_out)
        )
        if frame is None:  # not foreseen by _frame_keys: render it as the category page does
            template = template or get_template("catalog/_card.html")
            out.append(template.render({"card": card}))
        else:
            out.append(fill(frame, card))
    # The same whitespace as catalog/_cards.html.
    return mark_safe("".join(f"\n{html}" for html in out) + "\n" + shelf.tail + "\n")  # noqa: S308 - rendered templates

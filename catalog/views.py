"""The storefront: thin views over catalog.selectors."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import get_language

from . import selectors, shelf, storefront_cache

# The leaders app builds this page (issue #4); it is linked, not reversed, so
# the storefront works before it exists.
CHOOSE_PICKUP_POINT_PATH = "/leader/points/choose/"
# The orders app's cart endpoint: POST sku=<sku code>, quantity, action=cart|buy.
CART_ADD_PATH = "/orders/cart/add/"


def _pickup_point(request):
    # The shopper's pickup point is the leaders app's business: ask the same
    # function that puts `current_pickup_point` into every template.
    from leaders.context_processors import pickup_point

    chosen = pickup_point(request)
    request.catalog_point_needs_change = bool(chosen.get("pickup_point_needs_change"))
    return chosen["current_pickup_point"]


def _storefront(request) -> selectors.Storefront:
    return selectors.storefront_for(pickup_point=_pickup_point(request))


def _page_number(request) -> int:
    try:
        return max(1, min(int(request.GET.get("page", 1)), 1000))
    except (TypeError, ValueError):
        return 1


def _render_cards(request, template: str, context: dict):
    """Infinite scroll: htmx asks for the next page and gets only the cards."""
    if request.htmx and context["page"].page > 1:
        return render(request, "catalog/_cards.html", context)
    return render(request, template, context)


def _more_url(path: str, page: selectors.CardPage, **params) -> str | None:
    if not page.next_page:
        return None
    return f"{path}?{urlencode({**params, 'page': page.next_page})}"


def _base_context(storefront, request=None) -> dict:
    return {
        "storefront": storefront,
        "choose_point_url": CHOOSE_PICKUP_POINT_PATH,
        # The chosen point stopped taking orders (leader suspended, point closed).
        "point_needs_change": getattr(request, "catalog_point_needs_change", False),
    }


def home(request):
    """The shelf: everything the same for everyone (default warehouse, rendered
    cards, category chips) in one Redis round trip (catalog.shelf), the stock
    in one query, the shopper's own parts (pickup point, cart, messages) fresh."""
    number = _page_number(request)
    point = _pickup_point(request)
    name = shelf.cache_name(language=get_language(), page=number)
    builds = {name: lambda: shelf.build(page=number)}
    if getattr(point, "warehouse", None) is None:
        # Only the shopper without a point (or whose point has none) needs it.
        builds["default-warehouse"] = selectors.default_warehouse
    found = storefront_cache.cached_many(builds)
    storefront = selectors.storefront_for(
        pickup_point=point, default=found.get("default-warehouse")
    )
    page_shelf = found[name]
    page = selectors.cards_for_rows(
        page_shelf.rows, page_shelf.has_next, storefront=storefront, page=number
    )
    cards = shelf.cards_html(page_shelf, page.cards)
    if request.htmx and number > 1:
        # Infinite scroll: htmx asks for the next page and gets only the cards.
        return HttpResponse(cards)
    context = {
        **_base_context(storefront, request),
        "shelf": page_shelf,
        "page": page,
        "cards_html": cards if page.cards else "",
    }
    return render(request, "catalog/home.html", context)


def categories(request):
    storefront = _storefront(request)
    return render(
        request,
        "catalog/categories.html",
        {**_base_context(storefront, request), "tree": selectors.category_tree()},
    )


def category(request, slug: str):
    storefront = _storefront(request)
    current = selectors.category_by_slug(slug=slug)
    if current is None:
        raise Http404
    page = selectors.category_products(
        storefront=storefront, category=current, page=_page_number(request)
    )
    context = {
        **_base_context(storefront, request),
        "category": current,
        "page": page,
        "more_url": _more_url(reverse("catalog:category", args=[slug]), page),
    }
    return _render_cards(request, "catalog/category.html", context)


def search(request):
    storefront = _storefront(request)
    query = selectors.clean_query(request.GET.get("q"))
    page = selectors.search_products(storefront=storefront, query=query, page=_page_number(request))
    # Nothing found: what the neighbours buy most, instead of an empty page.
    popular = selectors.CardPage(
        cards=selectors.popular_products(storefront=storefront) if query and not page.cards else [],
        page=1,
        has_next=False,
    )
    context = {
        **_base_context(storefront, request),
        "query": query,
        "page": page,
        "popular": popular,
        "more_url": _more_url(reverse("catalog:search"), page, q=query),
    }
    return _render_cards(request, "catalog/search.html", context)


def product(request, code: str):
    storefront = _storefront(request)
    card = selectors.product_detail(code=code, storefront=storefront)
    if card is None:
        raise Http404
    lead = card.lead
    deadline = None
    if storefront.warehouse is not None and lead is not None:
        deadline = selectors.order_deadline(
            warehouse=storefront.warehouse, at=storefront.at, sku=lead.sku
        )
    context = {
        **_base_context(storefront, request),
        "card": card,
        "lead": lead,
        "deadline": deadline,
        "cart_url": CART_ADD_PATH,
    }
    return render(request, "catalog/product.html", context)

"""The few reads of catalog products that share links and cards need.

Kept in one place: the catalog app (issue #3) is built alongside this one, and
a share link must work whether a product is addressed by slug or by id.
"""

from __future__ import annotations

from decimal import Decimal

from django.apps import apps
from django.urls import NoReverseMatch, reverse
from PIL import Image


def _product_model():
    try:
        return apps.get_model("catalog", "Product")
    except LookupError:
        return None


def _has_field(model, name: str) -> bool:
    return any(f.name == name for f in model._meta.get_fields())


def find_product(ref: str):
    model = _product_model()
    if model is None or not ref:
        return None
    qs = model.objects.all()
    if _has_field(model, "slug"):
        product = qs.filter(slug=ref).first()
        if product is not None:
            return product
    return qs.filter(pk=int(ref)).first() if ref.isdigit() else None


def product_ref(product) -> str:
    return str(getattr(product, "slug", "") or product.pk)


def product_url(ref: str) -> str | None:
    """The catalog's product page for a slug or id, or None when there is none."""
    product = find_product(ref)
    if product is None:
        return None
    if hasattr(product, "get_absolute_url"):
        return product.get_absolute_url()
    for arg in (getattr(product, "slug", None), product.pk):
        if arg is None:
            continue
        try:
            return reverse("catalog:product", args=[arg])
        except NoReverseMatch:
            continue
    return None


def product_title(product) -> str:
    return str(getattr(product, "name", None) or getattr(product, "title", None) or product)


def product_price(product) -> Decimal | None:
    for name in ("price", "min_price", "display_price"):
        value = getattr(product, name, None)
        if isinstance(value, Decimal):
            return value
    skus = getattr(product, "skus", None)
    if skus is not None:
        prices = [s.price for s in skus.all() if isinstance(getattr(s, "price", None), Decimal)]
        if prices:
            return min(prices)
    return None


def product_photo(product) -> Image.Image | None:
    images = getattr(product, "images", None)
    candidates = []
    if images is not None:
        candidates = [getattr(i, "image", None) for i in images.all()[:1]]
    candidates.append(getattr(product, "image", None))
    for field in candidates:
        if not field:
            continue
        try:
            with field.open("rb") as fh:
                photo = Image.open(fh)
                photo.load()
                return photo
        except (OSError, ValueError):
            continue
    return None

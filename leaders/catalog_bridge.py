"""The few reads of catalog products that share links and share cards need.

Products are addressed by their public `code` (never a sequential id), the
same code as the catalog's product page `catalog:product`.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.files.storage import default_storage
from django.db.models import Prefetch
from django.urls import reverse
from PIL import Image

from catalog.models import Product, ProductImage, Sku


def find_product(code: str) -> Product | None:
    """An on-shelf product by its public code, with its active SKUs and first image."""
    if not code:
        return None
    return (
        Product.objects.filter(code=code, is_on_shelf=True)
        .prefetch_related(
            Prefetch("skus", queryset=Sku.objects.filter(is_active=True), to_attr="active_skus"),
            Prefetch("images", queryset=ProductImage.objects.all(), to_attr="all_images"),
        )
        .first()
    )


def product_ref(product: Product) -> str:
    return product.code


def product_url(code: str) -> str | None:
    """The catalog's product page, or None when the product is not on the shelf."""
    if not Product.objects.filter(code=code, is_on_shelf=True).exists():
        return None
    return reverse("catalog:product", kwargs={"code": code})


def product_title(product: Product) -> str:
    return product.name


def product_price(product: Product) -> Decimal | None:
    """The lowest group price among the active SKUs ("from ¥x")."""
    prices = [sku.price for sku in getattr(product, "active_skus", product.skus.all())]
    return min(prices) if prices else None


def product_photo(product: Product) -> Image.Image | None:
    """The product's share-sized picture (catalog makes a 500×400 variant for cards)."""
    images = getattr(product, "all_images", None) or list(product.images.all()[:1])
    if not images:
        return None
    path = ProductImage.path_for(images[0].key, "share", "jpg")
    try:
        with default_storage.open(path, "rb") as fh:
            photo = Image.open(fh)
            photo.load()
            return photo
    except (OSError, ValueError):
        return None

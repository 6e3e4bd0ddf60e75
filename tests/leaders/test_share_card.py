"""Product share links, their QR codes and the share card image."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.urls import reverse
from PIL import Image, ImageChops, ImageDraw

from catalog.services import add_product_image
from leaders.models import BindingSource, ShopperBinding
from leaders.sharing import cjk_font
from tests.catalog.factories import SkuFactory

from .factories import photo_upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def product():
    sku = SkuFactory(
        product__name="麻阳冰糖橙", product__code="mayang-orange", price=Decimal("19.90")
    )
    SkuFactory(product=sku.product, spec="5斤装", price=Decimal("29.90"))
    add_product_image(product=sku.product, upload=photo_upload("orange.png"))
    return sku.product


# Where the card's design (leaders.sharing.share_card_png) writes its lines: the
# text's anchor, font size, bold, colour, and how far right the line may run
# (the QR code starts at x=514 beside the point's lines).
TITLE_LINE = ((36, 590), 40, True, (0, 0, 0), 750)
PRICE_LINE = ((36, 650), 56, True, (255, 90, 31), 750)
POINT_NAME_LINE = ((36, 770), 30, True, (0, 0, 0), 510)
POINT_ADDRESS_LINE = ((36, 815), 26, False, (107, 114, 128), 510)


def written(card: Image.Image, text: str, line) -> bool:
    """Whether the card's line holds exactly `text` (no OCR here): the band of the
    card where the line sits, pixel for pixel, equals `text` drawn alone on
    white in the card's font. Another text, or anything more on the line,
    differs."""
    anchor, size, bold, colour, right = line
    alone = Image.new("RGB", card.size, "white")
    draw = ImageDraw.Draw(alone)
    font = cjk_font(size, bold=bold)
    draw.text(anchor, text, fill=colour, font=font)
    _left, top, _right, bottom = draw.textbbox(anchor, text, font=font)
    band = (0, top - 4, right, bottom + 4)
    expected = alone.crop(band)
    assert ImageChops.invert(expected).getbbox(), "the text drew nothing"  # not blank
    return ImageChops.difference(card.crop(band), expected).getbbox() is None


def test_the_share_card_is_a_png_with_the_product_price_and_point(
    client, leader, pickup_point, other_pickup_point, product
):
    client.force_login(leader.user)
    response = client.get(reverse("leaders:share_product_card", args=[product.code]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    card = Image.open(io.BytesIO(response.content)).convert("RGB")
    assert card.size == (750, 1000)
    # The product photo (orange, from the upload) fills the top of the card.
    red, green, blue = card.getpixel((375, 280))
    assert (red, green, blue) == pytest.approx((255, 90, 31), abs=12)
    # The name, the lowest of the two SKUs' prices, and the leader's point.
    assert written(card, "麻阳冰糖橙", TITLE_LINE)
    assert written(card, "¥19.90", PRICE_LINE)
    assert written(card, "幸福里便利店", POINT_NAME_LINE)
    assert written(card, "长沙市岳麓区麓谷大道100号", POINT_ADDRESS_LINE)
    # The comparison tells texts apart: not the other SKU's price, not part
    # of the line (the card's "0" after it would differ), not another point.
    assert not written(card, "¥29.90", PRICE_LINE)
    assert not written(card, "¥19.9", PRICE_LINE)
    assert not written(card, other_pickup_point.name, POINT_NAME_LINE)
    assert not written(card, other_pickup_point.address, POINT_ADDRESS_LINE)


def test_the_product_qr_code_downloads(client, leader, pickup_point, product):
    client.force_login(leader.user)
    response = client.get(reverse("leaders:share_product_qr", args=[product.code, "svg"]))
    assert response.status_code == 200
    assert b"<svg" in response.content


def test_an_unknown_product_has_no_card(client, leader, pickup_point):
    client.force_login(leader.user)
    response = client.get(reverse("leaders:share_product_card", args=["no-such-product"]))
    assert response.status_code == 404


def test_the_home_offers_cards_for_products_on_the_shelf(client, leader, pickup_point, product):
    client.force_login(leader.user)
    page = client.get(reverse("leaders:home")).content.decode()
    assert reverse("leaders:share_product_card", args=[product.code]) in page


def test_a_product_link_binds_the_shopper_and_opens_the_product(
    client, shopper, pickup_point, product
):
    client.force_login(shopper)
    response = client.get(
        reverse("leaders:share_product", args=[pickup_point.leader.share_code, product.code])
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("catalog:product", kwargs={"code": product.code})
    binding = ShopperBinding.objects.get(user=shopper)
    assert (binding.pickup_point, binding.source) == (pickup_point, BindingSource.SHARE_LINK)


def test_the_card_works_without_a_product_photo(client, leader, pickup_point):
    sku = SkuFactory(product__name="没有图片的商品", price=Decimal("5.00"))
    client.force_login(leader.user)
    response = client.get(reverse("leaders:share_product_card", args=[sku.product.code]))
    assert response.status_code == 200
    assert Image.open(io.BytesIO(response.content)).size == (750, 1000)

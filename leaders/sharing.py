"""Share links, their QR codes (segno) and the product share card (Pillow)."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import segno
from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _
from PIL import Image, ImageDraw, ImageFont, ImageOps

from tuangou.money import format_yuan

from .models import Leader, PickupPoint

CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
CJK_FONT_BOLD = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")
CARD_SIZE = (750, 1000)
BRAND = (255, 90, 31)


def shop_share_path(*, leader: Leader) -> str:
    return reverse("leaders:share_shop", args=[leader.share_code])


def product_share_path(*, leader: Leader, product_ref: str | int) -> str:
    return reverse("leaders:share_product", args=[leader.share_code, str(product_ref)])


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def qr_svg(url: str) -> bytes:
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=8, border=2, xmldecl=True)
    return out.getvalue()


def qr_png(url: str) -> bytes:
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="png", scale=10, border=2)
    return out.getvalue()


def cjk_font(size: int, *, bold: bool = False):
    path = CJK_FONT_BOLD if bold and CJK_FONT_BOLD.exists() else CJK_FONT
    if path.exists():
        # Index 2 of the Noto CJK collection is Simplified Chinese (SC).
        return ImageFont.truetype(str(path), size=size, index=2)
    return ImageFont.load_default(size=size)


def _fit_text(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def share_card_png(
    *,
    title: str,
    price: Decimal | None,
    point: PickupPoint,
    url: str,
    photo: Image.Image | None = None,
) -> bytes:
    """A 750×1000 card for WeChat: product photo, name, price, the leader's point, QR."""
    card = Image.new("RGB", CARD_SIZE, "white")
    draw = ImageDraw.Draw(card)
    if photo is not None:
        # Fill the top of the card edge to edge (cropping a little of a 5:4 picture).
        card.paste(ImageOps.fit(photo.convert("RGB"), (750, 560), Image.Resampling.LANCZOS))
    else:
        draw.rectangle((0, 0, 750, 560), fill=(255, 241, 234))
        draw.text((375, 280), title[:1], fill=BRAND, font=cjk_font(160, bold=True), anchor="mm")
    draw.text(
        (36, 590),
        _fit_text(draw, title, cjk_font(40, bold=True), 678),
        fill="black",
        font=cjk_font(40, bold=True),
    )
    if price is not None:
        draw.text((36, 650), format_yuan(price), fill=BRAND, font=cjk_font(56, bold=True))
    draw.line((36, 740, 714, 740), fill=(236, 236, 236), width=2)
    small = cjk_font(26)
    draw.text(
        (36, 770),
        _fit_text(draw, point.name, cjk_font(30, bold=True), 460),
        fill="black",
        font=cjk_font(30, bold=True),
    )
    draw.text(
        (36, 815), _fit_text(draw, point.address, small, 460), fill=(107, 114, 128), font=small
    )
    draw.text(
        (36, 900), _("Scan the code to order, pick up here"), fill=(107, 114, 128), font=small
    )
    qr = Image.open(io.BytesIO(qr_png(url)))
    qr = qr.convert("RGB").resize((200, 200), Image.Resampling.NEAREST)
    card.paste(qr, (514, 760))
    out = io.BytesIO()
    card.save(out, format="PNG", optimize=True)
    return out.getvalue()

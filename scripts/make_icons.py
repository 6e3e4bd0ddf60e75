"""Draw the site's icons (favicon, home-screen icons) into static/img/icons/.

Run once after changing the design: `.venv/bin/python scripts/make_icons.py`.
The PNGs are committed; nothing is drawn at request time. The glyph is 团 in
Noto Sans CJK Bold (Debian fonts-noto-cjk) on the brand orange.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

BRAND = (255, 90, 31)  # --brand in static/css/app.css
WHITE = (255, 255, 255)
FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"
FONT_INDEX = 2  # Noto Sans CJK SC in the collection
OUT = Path(__file__).resolve().parent.parent / "static" / "img" / "icons"
SCALE = 4  # draw large, then shrink: smooth edges at every size


def draw(size: int, *, rounded: bool, glyph_share: float) -> Image.Image:
    big = size * SCALE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    radius = int(big * 0.22) if rounded else 0
    pen.rounded_rectangle((0, 0, big - 1, big - 1), radius=radius, fill=BRAND)
    font = ImageFont.truetype(FONT, int(big * glyph_share), index=FONT_INDEX)
    left, top, right, bottom = pen.textbbox((0, 0), "团", font=font)
    x = (big - (right - left)) / 2 - left
    y = (big - (bottom - top)) / 2 - top
    pen.text((x, y), "团", font=font, fill=WHITE)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    # "any" icons: rounded, the glyph large.
    for size in (192, 512):
        draw(size, rounded=True, glyph_share=0.62).save(OUT / f"icon-{size}.png", optimize=True)
    # Maskable: full bleed, the glyph inside the 80% safe zone the launcher may crop to.
    draw(512, rounded=False, glyph_share=0.5).save(OUT / "icon-maskable-512.png", optimize=True)
    # iOS rounds the corners itself and shows transparency as black.
    touch = draw(180, rounded=False, glyph_share=0.6).convert("RGB")
    touch.save(OUT / "apple-touch-icon.png", optimize=True)
    favicon = draw(64, rounded=True, glyph_share=0.72)
    favicon.resize((32, 32), Image.Resampling.LANCZOS).save(OUT / "favicon-32.png", optimize=True)
    favicon.save(OUT / "favicon.ico", sizes=[(16, 16), (32, 32), (48, 48)])
    print(f"icons written to {OUT}")


if __name__ == "__main__":
    main()

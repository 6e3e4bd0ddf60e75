"""Demo shop: warehouses, categories, suppliers, ~30 groceries with drawn pictures
and stock for the coming delivery days. Idempotent (natural keys), and fast on
a second run: pictures that exist are not drawn again.
"""

from __future__ import annotations

import io
import zlib
from datetime import time
from decimal import Decimal
from pathlib import Path

from django.core.files.base import ContentFile
from PIL import Image, ImageDraw, ImageFont

from . import services, storefront_cache
from .models import Category, Product, ServicePromise, Sku, StorageClass, Supplier, Warehouse

FONT_PATH = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")

WAREHOUSES = [
    # name, city, address, default
    ("长沙岳麓中心仓", "长沙", "岳麓区望城坡物流园 8 栋", True),
    ("株洲天元中心仓", "株洲", "天元区泰山路 66 号冷链园", False),
]

CATEGORIES = [
    # slug, name, icon, children [(slug, name)]
    ("vegetables", "新鲜蔬菜", "蔬", [("leafy", "叶菜"), ("roots", "根茎瓜果")]),
    ("fruit", "时令水果", "果", [("seasonal-fruit", "当季鲜果"), ("imported-fruit", "进口水果")]),
    ("meat-eggs", "肉禽蛋", "肉", [("pork", "猪肉"), ("poultry", "禽肉"), ("eggs", "鲜蛋")]),
    ("seafood", "水产海鲜", "鲜", [("fish", "鲜鱼"), ("shrimp", "虾蟹")]),
    ("dairy", "乳品烘焙", "奶", [("milk", "牛奶酸奶"), ("bakery", "面包")]),
    ("grain-oil", "米面粮油", "粮", [("rice-flour", "米面"), ("oil", "食用油")]),
    ("snacks", "休闲零食", "零", []),
    ("household", "日用百货", "日", [("paper", "纸品"), ("cleaning", "清洁用品")]),
]

SUPPLIERS = [
    # name, contact, phone, lead days
    ("望城蔬菜基地", "刘师傅", "13787000001", 1),
    ("湘果鲜果业", "陈经理", "13787000002", 1),
    ("宁乡花猪肉联厂", "周经理", "13787000003", 1),
    ("洞庭湖水产合作社", "黄师傅", "13787000004", 1),
    ("湘江乳业", "李经理", "13787000005", 2),
    ("益阳粮油贸易", "王经理", "13787000006", 3),
    ("城南日用品批发", "赵老板", "13787000007", 3),
]

A, C, F = StorageClass.AMBIENT, StorageClass.CHILLED, StorageClass.FROZEN

# code, name, subtitle, category, supplier index, unit, origin, storage, shelf
# life, tags, colour, shape, own cutoff, SKUs [(spec, price, market, cost, quota, limit)]
PRODUCTS = [
    ("tomato", "西红柿", "自然熟沙瓤番茄，酸甜多汁", "roots", 0, "份", "湖南望城", A, 5,
     ["产地直采", "当季"], "#e53935", "circle", None,
     [("500g/份", "3.99", "5.80", "2.60", 200, 10), ("1kg/份", "7.50", "11.00", "5.00", 100, 5)]),
    ("cucumber", "水果黄瓜", "脆嫩爽口，可生吃", "roots", 0, "份", "湖南望城", A, 5,
     ["产地直采"], "#43a047", "ellipse", None, [("500g/份", "2.99", "4.50", "1.80", 150, 10)]),
    ("bok-choy", "上海青", "当天采摘，嫩绿新鲜", "leafy", 0, "份", "湖南长沙", C, 2,
     ["今日采摘"], "#66bb6a", "leaf", time(21, 0), [("500g/份", "2.49", "3.90", "1.40", 150, 10)]),
    ("spinach", "菠菜", "根红叶绿，清甜无涩", "leafy", 0, "份", "湖南长沙", C, 2,
     ["今日采摘"], "#2e7d32", "leaf", time(21, 0), [("400g/份", "3.29", "4.80", "2.00", 120, 10)]),
    ("potato", "黄心土豆", "粉糯好吃，炖煮皆宜", "roots", 0, "份", "内蒙古", A, 20,
     [], "#c8a165", "ellipse", None, [("1kg/份", "3.99", "5.90", "2.50", 200, 10)]),
    ("carrot", "胡萝卜", "脆甜多汁，榨汁炒菜", "roots", 0, "份", "山东", A, 15,
     [], "#fb8c00", "ellipse", None, [("500g/份", "2.29", "3.50", "1.30", 150, 10)]),
    ("cabbage", "大白菜", "整颗装，约 2kg", "leafy", 0, "颗", "湖南宁乡", A, 10,
     [], "#aed581", "circle", None, [("1颗约2kg", "4.99", "6.80", "3.00", 80, 3)]),
    ("broccoli", "西兰花", "花球紧实，营养丰富", "roots", 0, "颗", "云南", C, 4,
     [], "#388e3c", "circle", None, [("1颗约400g", "4.50", "6.50", "2.80", 100, 5)]),
    ("fuji-apple", "红富士苹果", "脆甜多汁，果径 80mm+", "seasonal-fruit", 1, "箱", "陕西洛川",
     A, 30, ["爆款", "产地直发"], "#d32f2f", "circle", None,
     [("2.5kg/箱", "19.90", "29.90", "14.00", 120, 5),
      ("5kg/箱", "35.90", "55.00", "26.00", 60, 3)]),
    ("banana", "香蕉", "自然熟，香甜软糯", "seasonal-fruit", 1, "份", "广西", A, 5,
     [], "#fdd835", "ellipse", None, [("1.5kg/份", "9.90", "13.80", "6.50", 150, 5)]),
    ("watermelon", "麒麟西瓜", "薄皮沙瓤，清甜爽口", "seasonal-fruit", 1, "个", "海南", A, 7,
     [], "#2e7d32", "circle", None, [("1个约4kg", "19.90", "28.00", "13.00", 60, 2)]),
    ("mandarin", "砂糖橘", "皮薄易剥，甜度高", "seasonal-fruit", 1, "箱", "广西", A, 15,
     ["当季"], "#ff9800", "circle", None, [("2.5kg/箱", "15.90", "25.00", "10.50", 100, 5)]),
    ("cherry", "智利车厘子", "JJ 级，果径 28-30mm", "imported-fruit", 1, "盒", "智利", C, 7,
     ["进口"], "#880e4f", "circle", None, [("500g/盒", "49.90", "79.00", "38.00", 40, 2)]),
    ("free-range-eggs", "土鸡蛋", "林下散养，蛋黄饱满", "eggs", 2, "盒", "湖南浏阳", A, 20,
     ["爆款"], "#ffe0b2", "egg", None,
     [("30枚/盒", "24.90", "36.00", "18.00", 120, 3),
      ("15枚/盒", "13.90", "19.00", "9.50", 120, 5)]),
    ("fresh-eggs", "新鲜鸡蛋", "每日新鲜，早餐必备", "eggs", 2, "盒", "湖南宁乡", A, 20,
     [], "#fff3e0", "egg", None, [("20枚/盒", "12.90", "16.80", "9.00", 200, 5)]),
    ("pork-belly", "五花肉", "宁乡花猪，肥瘦相间", "pork", 2, "份", "湖南宁乡", C, 3,
     ["冷鲜"], "#f48fb1", "rect", None, [("500g/份", "16.90", "22.00", "12.50", 100, 5)]),
    ("pork-loin", "猪里脊", "细嫩少筋，小炒首选", "pork", 2, "份", "湖南宁乡", C, 3,
     ["冷鲜"], "#f06292", "rect", None, [("500g/份", "18.90", "25.00", "14.00", 80, 5)]),
    ("chicken-leg", "琵琶鸡腿", "肉厚多汁，卤烤皆宜", "poultry", 2, "份", "山东", F, 180,
     [], "#ffcc80", "ellipse", None, [("1kg/份", "19.90", "28.00", "14.00", 100, 5)]),
    ("chicken-wings", "鸡翅中", "冰鲜直供，可乐鸡翅", "poultry", 2, "份", "山东", F, 180,
     [], "#ffb74d", "ellipse", None, [("500g/份", "22.90", "32.00", "17.00", 80, 5)]),
    ("perch", "鲈鱼", "活鱼现杀，清蒸鲜美", "fish", 3, "条", "湖南岳阳", C, 2,
     ["现杀"], "#90a4ae", "fish", time(20, 0), [("1条约600g", "26.90", "36.00", "20.00", 40, 2)]),
    ("shrimp", "基围虾", "鲜活速冻，个大肉弹", "shrimp", 3, "份", "广东湛江", F, 180,
     [], "#ff7043", "ellipse", None, [("500g/份", "39.90", "55.00", "30.00", 50, 3)]),
    ("milk-box", "纯牛奶", "全脂营养，整箱装", "milk", 4, "箱", "内蒙古", A, 180,
     ["整箱"], "#e3f2fd", "rect", None, [("250ml×12盒", "39.90", "54.00", "30.00", 100, 3)]),
    ("fresh-milk", "鲜牛奶", "巴氏杀菌，当日生产", "milk", 4, "瓶", "湖南长沙", C, 7,
     ["冷藏"], "#bbdefb", "rect", time(21, 0), [("950ml/瓶", "12.90", "16.50", "9.00", 80, 5)]),
    ("yogurt", "原味酸奶", "生牛乳发酵，无添加", "milk", 4, "组", "湖南长沙", C, 21,
     [], "#f8bbd0", "rect", None, [("100g×8杯", "15.90", "21.00", "11.00", 80, 5)]),
    ("toast", "全麦吐司", "高纤维，早餐搭档", "bakery", 4, "袋", "湖南长沙", A, 5,
     [], "#d7a86e", "rect", None, [("400g/袋", "9.90", "13.90", "6.50", 60, 5)]),
    ("rice", "东北大米", "五常稻花香，新米", "rice-flour", 5, "袋", "黑龙江", A, 365,
     ["新米"], "#f5f5f5", "rect", None, [("5kg/袋", "29.90", "45.00", "22.00", 80, 2)]),
    ("peanut-oil", "压榨花生油", "物理压榨，一级品质", "oil", 5, "桶", "山东", A, 540,
     [], "#ffd54f", "rect", None, [("5L/桶", "69.90", "99.00", "55.00", 40, 2)]),
    ("noodles", "鸡蛋挂面", "筋道爽滑，易煮不糊", "rice-flour", 5, "袋", "河南", A, 365,
     [], "#fff59d", "rect", None, [("1kg/袋", "7.90", "10.90", "5.20", 100, 5)]),
    ("nuts", "每日坚果", "6 种坚果果干，独立小包", "snacks", 6, "盒", "浙江", A, 180,
     [], "#a1887f", "rect", None, [("25g×30包", "59.90", "89.00", "42.00", 50, 3)]),
    ("tissue", "抽纸", "3 层 100 抽，柔韧亲肤", "paper", 6, "提", "广东", A, 1095,
     ["囤货"], "#e1f5fe", "rect", None, [("24包/提", "29.90", "45.90", "21.00", 80, 3)]),
    ("dish-soap", "洗洁精", "食品级，不伤手", "cleaning", 6, "瓶", "上海", A, 1095,
     [], "#80deea", "rect", None, [("1.29kg/瓶", "9.90", "15.90", "6.00", 80, 5)]),
]  # fmt: skip

PROMISES = [
    # name, what it means, category slugs that make it (top categories cover their children)
    ("坏果包赔", "收货后发现坏果、烂果，拍照申请售后，按坏的数量退款。", ["fruit", "vegetables"]),
    ("缺货必赔", "截单后缺货的商品自动全额退款，不用申请。", ["fruit", "vegetables", "meat-eggs",
     "seafood", "dairy", "grain-oil", "snacks", "household"]),
    ("次日达", "今晚截单前下单，明天送到自提点。", ["fruit", "vegetables", "meat-eggs", "seafood",
     "dairy", "grain-oil", "snacks", "household"]),
    ("冷链配送", "全程冷藏运输，到店即入冷柜。", ["seafood", "dairy", "meat-eggs"]),
    ("死鱼包退", "取货时鱼不新鲜，拍照申请售后，全额退款。", ["fish"]),
]  # fmt: skip

SOLD_OUT_DEMO = "cherry"  # one closed item shows the sold-out state


def seed(*, stdout) -> None:
    warehouses = _warehouses()
    categories = _categories()
    _promises(categories)
    suppliers = _suppliers()
    drawn = 0
    for position, row in enumerate(PRODUCTS):
        product = _product(position, row, categories, suppliers)
        if not product.images.exists():
            services.add_product_image(product=product, upload=_draw(row), alt=product.name)
            drawn += 1
    services.roll_stock_forward()
    cherry = Sku.objects.filter(product__code=SOLD_OUT_DEMO).first()
    if cherry:
        default = warehouses[0]
        services.close_stock(
            sku=cherry,
            warehouse=default,
            delivery_date=services.delivery_date_for(warehouse=default),
            note="演示：供应商缺货",
        )
    # Categories and warehouses were written without the admin: drop the
    # storefront cache so the pages show the seeded shop at once.
    storefront_cache.bump()
    stdout.write(
        f"  catalog: {len(PRODUCTS)} products in {len(categories)} categories, "
        f"{drawn} pictures drawn"
    )


def _warehouses() -> list[Warehouse]:
    default_name = next(name for name, _c, _a, is_default in WAREHOUSES if is_default)
    Warehouse.objects.filter(is_default=True).exclude(name=default_name).update(is_default=False)
    return [
        Warehouse.objects.update_or_create(
            name=name,
            defaults={
                "city": city,
                "address": address,
                "is_default": is_default,
                "is_active": True,
                "cutoff_time": time(23, 0),
                "pickup_time": time(10, 0),
            },
        )[0]
        for name, city, address, is_default in WAREHOUSES
    ]


def _categories() -> dict[str, Category]:
    found: dict[str, Category] = {}
    for top_position, (slug, name, icon, children) in enumerate(CATEGORIES):
        top, _created = Category.objects.update_or_create(
            slug=slug,
            defaults={
                "name": name,
                "icon": icon,
                "parent": None,
                "position": top_position,
                "is_active": True,
            },
        )
        found[slug] = top
        for position, (child_slug, child_name) in enumerate(children):
            found[child_slug] = Category.objects.update_or_create(
                slug=child_slug,
                defaults={
                    "name": child_name,
                    "parent": top,
                    "position": position,
                    "is_active": True,
                },
            )[0]
    return found


def _promises(categories: dict[str, Category]) -> None:
    """Promises per category: 坏果包赔 for fruit and vegetables only, never for
    fish, tissues or dish soap (a child category with its own overrides its top's)."""
    by_category: dict[str, list[ServicePromise]] = {}
    for position, (name, description, slugs) in enumerate(PROMISES):
        promise, _created = ServicePromise.objects.update_or_create(
            name=name,
            defaults={"description": description, "position": position, "is_active": True},
        )
        for slug in slugs:
            by_category.setdefault(slug, []).append(promise)
    for slug, promises in by_category.items():
        category = categories[slug]
        # Fish keeps its top category's promises beside its own.
        inherited = by_category.get(category.parent.slug, []) if category.parent_id else []
        category.promises.set([*inherited, *promises])


def _suppliers() -> list[Supplier]:
    return [
        Supplier.objects.update_or_create(
            name=name, defaults={"contact": contact, "phone": phone, "lead_time_days": lead}
        )[0]
        for name, contact, phone, lead in SUPPLIERS
    ]


def _product(position, row, categories, suppliers) -> Product:
    (code, name, subtitle, category, supplier, unit, origin, storage, shelf_life, tags,
     _colour, _shape, cutoff, skus) = row  # fmt: skip
    product = Product.objects.filter(code=code).first() or Product(code=code)
    for name_, value in {
        "name": name,
        "subtitle": subtitle,
        "description": (
            f"<p>{subtitle}。</p><p>产地：{origin}，由{suppliers[supplier].name}供货。</p>"
        ),
        "category": categories[category],
        "supplier": suppliers[supplier],
        "unit": unit,
        "origin": origin,
        "storage_class": storage,
        "shelf_life_days": shelf_life,
        "tags": tags,
        "is_on_shelf": True,
        "position": position,
    }.items():
        setattr(product, name_, value)
    # Through the service, like an operator's edit: sanitized and indexed for pinyin search.
    services.save_product(product=product)
    for sku_position, (spec, price, market, cost, quota, limit) in enumerate(skus):
        Sku.objects.update_or_create(
            code=f"{code}-{sku_position + 1}",
            defaults={
                "product": product,
                "spec": spec,
                "price": Decimal(price),
                "market_price": Decimal(market),
                "cost_price": Decimal(cost),
                "barcode": f"69{zlib.crc32(code.encode()) % 10**9:09d}{sku_position}"[:13],
                "per_order_limit": limit,
                "daily_quota": quota,
                "cutoff_time": cutoff,
                "position": sku_position,
                "is_active": True,
            },
        )
    return product


def _font(size: int):
    if FONT_PATH.exists():
        return ImageFont.truetype(str(FONT_PATH), size)
    return ImageFont.load_default(size=size)


def _draw(row) -> ContentFile:
    """A 600×600 product picture: soft background, the produce as a shape, its name."""
    name, colour, shape = row[1], row[10], row[11]
    size = 600
    image = Image.new("RGB", (size, size), "#fff7f0")
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((24, 24, size - 24, size - 24), radius=48, fill="#ffffff")
    box = (170, 90, 430, 350)
    outline = "#00000022"
    if shape == "circle":
        draw.ellipse(box, fill=colour, outline=outline, width=4)
        draw.ellipse((280, 70, 320, 110), fill="#558b2f")
    elif shape == "ellipse":
        draw.ellipse((130, 140, 470, 320), fill=colour, outline=outline, width=4)
    elif shape == "egg":
        for dx in (-90, 0, 90):
            draw.ellipse((240 + dx, 120, 360 + dx, 280), fill=colour, outline="#d7b899", width=4)
    elif shape == "leaf":
        draw.ellipse((200, 80, 400, 360), fill=colour)
        draw.line((300, 90, 300, 360), fill="#1b5e20", width=8)
    elif shape == "fish":
        draw.ellipse((130, 150, 420, 300), fill=colour)
        draw.polygon([(410, 225), (480, 160), (480, 290)], fill=colour)
        draw.ellipse((180, 200, 205, 225), fill="#263238")
    else:
        draw.rounded_rectangle(
            (180, 90, 420, 350), radius=24, fill=colour, outline="#9e9e9e", width=4
        )
    font = _font(72)
    text_box = draw.textbbox((0, 0), name, font=font)
    width = text_box[2] - text_box[0]
    draw.text(((size - width) / 2, 400), name, font=font, fill="#1f2328")
    draw.text((size / 2, 520), "次日达 · 社区自提", font=_font(30), fill="#ff5a1f", anchor="mm")
    out = io.BytesIO()
    image.save(out, "PNG")
    return ContentFile(out.getvalue(), name=f"{row[0]}.png")

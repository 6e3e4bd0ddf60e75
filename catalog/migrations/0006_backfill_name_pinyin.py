"""Write the pinyin search keys of the products that existed before them."""

from django.db import migrations

BATCH = 500


def backfill(apps, schema_editor):
    # The keys as save_product writes them (catalog/pinyin.py is pure, no models).
    from catalog.pinyin import full_pinyin, initials

    Product = apps.get_model("catalog", "Product")
    changed = []
    for product in Product.objects.only("pk", "name", "name_pinyin", "name_initials").iterator():
        keys = (full_pinyin(product.name), initials(product.name))
        if keys != (product.name_pinyin, product.name_initials):
            product.name_pinyin, product.name_initials = keys
            changed.append(product)
    Product.objects.bulk_update(changed, ["name_pinyin", "name_initials"], batch_size=BATCH)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0005_promises_and_pinyin")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True)]

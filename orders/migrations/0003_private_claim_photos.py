# Claim photos move to private storage (issue #10, "Private files are private").

from django.db import migrations, models

import tuangou.private_files


def move_claim_photos(apps, schema_editor):
    """Each existing claim photo leaves public media (orders/claims/YYYY/MM/)
    for private storage under a new random name."""
    ClaimPhoto = apps.get_model("orders", "ClaimPhoto")
    tuangou.private_files.move_public_files_to_private(ClaimPhoto, "image", "orders/claims")


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0002_line_handout_within_quantity"),
    ]

    operations = [
        migrations.AlterField(
            model_name="claimphoto",
            name="image",
            field=models.ImageField(
                storage=tuangou.private_files.private_storage,
                upload_to=tuangou.private_files.PrivateName("orders/claims"),
                verbose_name="photo",
            ),
        ),
        migrations.RunPython(move_claim_photos, migrations.RunPython.noop, elidable=True),
    ]

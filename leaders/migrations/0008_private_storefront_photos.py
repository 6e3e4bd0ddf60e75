# Leader applications' storefront photos move to private storage.

from django.db import migrations, models

import tuangou.private_files


def move_storefront_photos(apps, schema_editor):
    """Each existing storefront photo leaves public media
    (leaders/applications/YYYY/MM/<uploaded name>) for private storage under
    a new random name."""
    LeaderApplication = apps.get_model("leaders", "LeaderApplication")
    tuangou.private_files.move_public_files_to_private(
        LeaderApplication, "storefront_photo", "leaders/applications"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("leaders", "0007_payout_batch_status"),
    ]

    operations = [
        migrations.AlterField(
            model_name="leaderapplication",
            name="storefront_photo",
            field=models.ImageField(
                storage=tuangou.private_files.private_storage,
                upload_to=tuangou.private_files.PrivateName("leaders/applications"),
                verbose_name="storefront photo",
            ),
        ),
        migrations.RunPython(move_storefront_photos, migrations.RunPython.noop, elidable=True),
    ]

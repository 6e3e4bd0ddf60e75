# Statements move to private storage (issue #10, "Private files are private").

from django.db import migrations, models

import tuangou.private_files


def move_statements(apps, schema_editor):
    """Each existing statement leaves public media (statements/YYYY/MM/
    statement-<leader>-<date>.pdf, readable by anyone) for private storage
    under a random name. A statement whose file is gone is made again the
    next time someone with the right opens it."""
    Settlement = apps.get_model("leaders", "Settlement")
    tuangou.private_files.move_public_files_to_private(Settlement, "statement", "statements")


class Migration(migrations.Migration):
    dependencies = [
        ("leaders", "0004_commission_labels"),
    ]

    operations = [
        migrations.AlterField(
            model_name="settlement",
            name="statement",
            field=models.FileField(
                blank=True,
                storage=tuangou.private_files.private_storage,
                upload_to=tuangou.private_files.PrivateName("statements"),
                verbose_name="statement",
            ),
        ),
        migrations.RunPython(move_statements, migrations.RunPython.noop, elidable=True),
    ]

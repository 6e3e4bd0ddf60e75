# The analytics fact job reads a day's paid orders by paid_at and each of their
# shoppers' first paid order, overall and with a leader (index-only, the leader
# carried in the index): two partial indexes (paid orders only), made
# CONCURRENTLY so that a big orders table keeps taking orders meanwhile.

from django.conf import settings
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("orders", "0005_audit_history"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="order",
            index=models.Index(
                condition=models.Q(("paid_at__isnull", False)),
                fields=["paid_at"],
                name="orders_paid_at",
            ),
        ),
        AddIndexConcurrently(
            model_name="order",
            index=models.Index(
                condition=models.Q(("paid_at__isnull", False)),
                fields=["user", "paid_at"],
                include=["leader"],
                name="orders_user_paid_at",
            ),
        ),
    ]

"""The Celery app: Redis broker, tasks autodiscovered from every app's tasks.py."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tuangou.settings")

app = Celery("tuangou")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

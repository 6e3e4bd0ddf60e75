"""/healthz with no Celery worker running (a module of its own: no worker fixture here)."""

import pytest

pytestmark = pytest.mark.django_db


def test_healthz_is_503_when_no_worker_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] == "ok"
    assert body["checks"]["celery"].startswith("error")

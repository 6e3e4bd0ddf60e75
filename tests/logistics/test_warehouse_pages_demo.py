"""On the demo data: the warehouse keeper's day page for every warehouse, and every
document it links to, downloads (PDF, CSV, XLSX) with the wave's own numbers."""

from __future__ import annotations

import csv
import html
import io
import re

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse
from openpyxl import load_workbook

from catalog.models import Warehouse
from logistics.models import PickItem, Wave, WaveStatus
from tuangou.accounts.roles import WAREHOUSE, sync_roles

pytestmark = [pytest.mark.django_db, pytest.mark.ticking]


def test_every_document_linked_from_the_demo_days_downloads(clock, client, make_user):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    sync_roles()
    keeper = make_user("wang", "+8613900000201", "仓库老王", is_staff=True)
    keeper.groups.add(Group.objects.get(name=WAREHOUSE))
    client.force_login(keeper)
    done = Wave.objects.filter(status=WaveStatus.DONE).select_related("warehouse")
    assert done.exists(), "the demo has finished waves"
    checked = 0
    for wave in done:
        day = reverse("logistics:warehouse_day")
        page = client.get(f"{day}?warehouse={wave.warehouse_id}&date={wave.delivery_date}")
        if page.status_code == 400:  # a demo day outside the page's window
            continue
        assert page.status_code == 200
        body = page.content.decode()
        assert f'<b data-count="lines">{wave.line_count}</b>' in body
        if wave.line_count == 0:
            assert "本波次没有需要拣货的商品" in body
            continue
        links = sorted(
            {html.unescape(u) for u in re.findall(r'href="([^"]*/documents/[^"]+)"', body)}
        )
        assert links, wave
        for url in links:
            response = client.get(url)
            assert response.status_code == 200, url
            data = b"".join(response.streaming_content) if response.streaming else response.content
            if ".pdf" in url:
                assert data.startswith(b"%PDF"), url
            elif ".xlsx" in url:
                load_workbook(io.BytesIO(data), read_only=True)
            else:
                rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
                assert len(rows) >= 1, url
            checked += 1
        # The whole picking CSV holds exactly the wave's pick items.
        picking = client.get(reverse("logistics:wave_document", args=[wave.pk, "picking", "csv"]))
        rows = list(
            csv.reader(io.StringIO(b"".join(picking.streaming_content).decode("utf-8-sig")))
        )
        items = PickItem.objects.filter(wave=wave)
        assert len(rows) - 1 == items.count()
        assert sum(int(r[5]) for r in rows[1:]) == sum(i.quantity for i in items)
    assert checked > 0
    assert Warehouse.objects.exists()

"""The warehouse day on a phone (390×844, zh-CN): the wave's progress bar polls while
it runs and the page reloads with the documents when it is done; a picker ticks
picking lines (a short pick, an over-pick the phone refuses), a packer closes a point; the
documents download through the checked view."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from logistics.models import PackItem, PickItem, Wave, WaveStatus
from logistics.services.wave import run_wave
from tests.clock import TOMORROW
from tests.leaders.browsers import new_phone
from tuangou.accounts.roles import WAREHOUSE, sync_roles

from .conftest import paid_order

pytestmark = [pytest.mark.browser, pytest.mark.ticking, pytest.mark.django_db(transaction=True)]


def test_a_keeper_follows_the_wave_then_picks_and_packs_on_a_phone(
    browser,
    browser_context_args,
    live_server,
    clock,
    make_user,
    shopper,
    other_shopper,
    point,
    other_pickup_point,
    sku,
    egg_sku,
    route,
):
    paid_order(shopper, point, (sku, 2), (egg_sku, 1))
    paid_order(other_shopper, other_pickup_point, (sku, 1))
    wave = run_wave(warehouse=point.warehouse, delivery_date=TOMORROW)
    # The wave is (again) being built: 40 % done.
    Wave.objects.filter(pk=wave.pk).update(status=WaveStatus.RUNNING, progress=40)
    sync_roles()
    keeper = make_user("wang", "+8613900000201", "仓库老王", is_staff=True)
    keeper.groups.add(Group.objects.get(name=WAREHOUSE))

    context, page = new_phone(browser, browser_context_args, live_server, keeper)
    page.goto(f"{live_server.url}/delivery/warehouse/")
    assert page.get_by_role("heading", level=1).inner_text() == "仓库作业日"
    assert page.locator("#id_date").input_value() == TOMORROW.isoformat()
    assert page.locator("#wave-status [role=progressbar]").get_attribute("aria-valuenow") == "40"
    assert page.locator("#picking").count() == 0
    assert page.get_by_role("button", name="重新生成波次").is_disabled()

    # The worker finishes: the next poll reloads the page with the lists and documents.
    Wave.objects.filter(pk=wave.pk).update(status=WaveStatus.DONE, progress=100)
    page.wait_for_selector("#picking", timeout=15_000)
    assert page.locator("#wave-status").get_attribute("data-status") == "done"
    assert page.locator("[data-count=units]").inner_text() == "4"

    # Picking: the ambient list, ticked line by line.
    page.locator("#picking a", has_text="常温").click()
    page.wait_for_url("**/picking/ambient/")
    eggs = PickItem.objects.get(wave=wave, sku=egg_sku)
    tomatoes = PickItem.objects.get(wave=wave, sku=sku)
    row = page.locator(f"#pick-{eggs.pk}")
    row.get_by_role("button").click()
    page.wait_for_selector(f"#pick-{eggs.pk}.is-done")
    eggs.refresh_from_db()
    assert eggs.picked_quantity == 1
    # Too many for the tomatoes: the phone refuses before sending (the server's own
    # refusal is tested in test_warehouse_pages), nothing recorded.
    row = page.locator(f"#pick-{tomatoes.pk}")
    row.locator("input[name=quantity]").fill("9")
    row.get_by_role("button").click()
    assert row.locator("input[name=quantity]").evaluate("el => el.validity.rangeOverflow")
    tomatoes.refresh_from_db()
    assert tomatoes.picked_quantity is None
    # Two of three found on the shelf.
    row = page.locator(f"#pick-{tomatoes.pk}")
    row.locator("input[name=quantity]").fill("2")
    row.get_by_role("button").click()
    page.wait_for_selector(f"#pick-{tomatoes.pk}.is-done")
    tomatoes.refresh_from_db()
    assert tomatoes.picked_quantity == 2

    # Packing: the first point closed in one tap.
    page.goto(f"{live_server.url}/delivery/warehouse/wave/{wave.pk}/packing/?route={route.pk}")
    card = page.locator(f"#point-{point.pk}")
    card.get_by_role("button", name="全部打包").click()
    page.wait_for_selector(f"#point-{point.pk} .badge-ok")
    assert set(
        PackItem.objects.filter(wave=wave, pickup_point=point).values_list("is_packed", flat=True)
    ) == {True}
    assert not PackItem.objects.filter(wave=wave, pickup_point=other_pickup_point, is_packed=True)

    # The labels of the point, through the checked view.
    href = card.get_by_role("link", name="标签").get_attribute("href")
    response = page.request.get(f"{live_server.url}{href}")
    assert response.status == 200 and response.body().startswith(b"%PDF")
    context.close()

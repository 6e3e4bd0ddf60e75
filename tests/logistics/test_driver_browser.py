"""Issue #12's done-when for drivers, on phones (390×844, zh-CN): the driver opens
today's task, departs, arrives and hands over at each stop (a photo and a note
at the first); the leader signs for the delivery on their phone; the shopper
sees 待取货.

The whole process (live server included) runs on the suite's ticking clock:
the orders are paid at 15:00, the van leaves at 06:00 the next day.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from logistics.models import DeliveryRun, RunStatus, StopStatus
from orders.models import OrderStatus
from tests.clock import TOMORROW
from tests.leaders.browsers import new_phone

from .conftest import delivery_morning, paid_order
from .runs_support import make_run, stops_of

pytestmark = [pytest.mark.browser, pytest.mark.ticking, pytest.mark.django_db(transaction=True)]


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (90, 160, 60)).save(buffer, "JPEG")
    return buffer.getvalue()


def _message(page) -> str:
    return page.locator(".messages").inner_text()


def test_the_driver_delivers_every_stop_and_the_shopper_can_pick_up(
    browser,
    browser_context_args,
    live_server,
    settings,
    clock,
    shopper,
    other_shopper,
    leader_user,
    driver,
    point,
    other_pickup_point,
    sku,
    route,
):
    settings.SITE_URL = live_server.url
    alice = paid_order(shopper, point, (sku, 2))
    bob = paid_order(other_shopper, other_pickup_point, (sku, 1))
    run = make_run(route, TOMORROW)
    first, second = stops_of(run)

    clock.move_to(delivery_morning(6))
    van_context, van = new_phone(browser, browser_context_args, live_server, driver.user)
    van.goto(f"{live_server.url}/delivery/driver/")
    assert van.get_by_role("heading", level=1).inner_text() == "今天的配送任务"
    card = van.locator(f"[data-run='{run.pk}']")
    assert "R01 岳麓线" in card.inner_text()
    assert "已完成 0/2 个站点" in card.inner_text()
    card.click()
    van.wait_for_url(f"**/delivery/driver/runs/{run.pk}/")

    # Depart: both points' orders are on the way.
    van.click("[data-depart]")
    van.wait_for_selector("[data-run-status='departed']")
    assert _message(van) == "已出发：2 个订单已在配送中。"
    alice.refresh_from_db()
    assert alice.status == OrderStatus.IN_DELIVERY

    # First stop: arrive, then hand over with a photo and a note.
    stop = van.locator(f"[data-stop='{first.pk}']")
    assert "幸福里便利店" in stop.inner_text()
    assert stop.locator("[data-tel]").get_attribute("href") == "tel:+8613800000011"
    assert (
        stop.locator("[data-map]")
        .get_attribute("href")
        .startswith("https://uri.amap.com/marker?position=112.938800,28.228000")
    )
    stop.locator("[data-arrive]").click()
    van.wait_for_selector(f"[data-stop='{first.pk}'][data-stop-status='arrived']")
    assert _message(van) == "已到达 幸福里便利店。"
    stop = van.locator(f"[data-stop='{first.pk}']")
    stop.get_by_label("备注（可选）").fill("放在冷柜第二层")
    stop.locator("[data-hand-over-form] input[name=photo]").set_input_files(
        files=[{"name": "handover.jpg", "mimeType": "image/jpeg", "buffer": _jpeg()}]
    )
    stop.locator("[data-hand-over]").click()
    van.wait_for_selector(f"[data-stop='{first.pk}'][data-stop-status='handed_over']")
    assert _message(van) == "已在 幸福里便利店 交接，已通知团长签收。"
    assert van.locator(f"[data-stop='{first.pk}'] [data-note]").inner_text() == "放在冷柜第二层"
    assert van.locator(f"[data-stop='{first.pk}'] [data-photo]").count() == 1

    # Second stop: arrive and hand over; the run is finished.
    stop = van.locator(f"[data-stop='{second.pk}']")
    stop.locator("[data-arrive]").click()
    van.wait_for_selector(f"[data-stop='{second.pk}'][data-stop-status='arrived']")
    van.locator(f"[data-stop='{second.pk}'] [data-hand-over]").click()
    van.wait_for_selector("[data-run-status='finished']")
    assert "全部站点已完成，本次配送结束。" in _message(van)
    assert van.locator("[data-run-status]").inner_text() == "已完成"
    assert van.evaluate("document.documentElement.scrollWidth") <= 390
    run.refresh_from_db()
    assert run.status == RunStatus.FINISHED
    assert list(run.stops.order_by("position").values_list("status", flat=True)) == [
        StopStatus.HANDED_OVER,
        StopStatus.HANDED_OVER,
    ]

    # The photo opens for the driver (permission-checked view, a real JPEG).
    photo = van.request.get(
        live_server.url
        + van.locator(f"[data-stop='{first.pk}'] [data-photo]").get_attribute("href")
    )
    assert photo.status == 200
    assert photo.headers["content-type"] == "image/jpeg"

    # 08:00: the leader of 幸福里 signs for the delivery on their phone.
    clock.move_to(delivery_morning(8))
    lead_context, lead = new_phone(browser, browser_context_args, live_server, leader_user)
    lead.goto(f"{live_server.url}/orders/leader/")
    lead.click("[data-sign-link]")
    lead.wait_for_selector("[data-signoff-form]")
    lead.click("[data-sign]")
    lead.wait_for_selector("[data-signed]")
    assert "1 个订单可以取货了" in lead.inner_text(".messages")

    # The shopper sees 待取货 with a pickup code.
    shop_context, shop = new_phone(browser, browser_context_args, live_server, shopper)
    shop.goto(f"{live_server.url}/orders/o/{alice.code}/")
    assert shop.locator(".order-head [data-status]").inner_text() == "待取货"
    assert shop.get_attribute("[data-pickup-code]", "data-pickup-code")
    bob.refresh_from_db()
    assert bob.status == OrderStatus.IN_DELIVERY  # 阳光花园's leader has not signed yet
    assert DeliveryRun.objects.get(pk=run.pk).finished_at is not None
    for context in (van_context, lead_context, shop_context):
        context.close()

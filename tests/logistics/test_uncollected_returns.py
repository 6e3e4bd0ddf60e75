"""Uncollected goods returned to stock are still at the point: the leader is
texted once to set them aside, the next run to the point lists them (run
sheet, driver's stop card) and its hand-over there takes them back, once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from logistics import documents
from logistics.models import UncollectedDisposal
from logistics.services.runs import depart_run, hand_over_stop
from logistics.services.uncollected import dispose_uncollected, returns_for_run
from tests.catalog.factories import set_stock
from tests.clock import TOMORROW, at

from .conftest import paid_order
from .documents_support import pdf_text
from .runs_support import make_run, stops_of
from .test_uncollected import DEADLINE, perishable, ready, rice_sku  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

NEXT_DAY = TOMORROW + timedelta(days=3)  # the day after the uncollected deadline


def _sms(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "tuangou.sms"]


def csv_rows(doc) -> list[list[str]]:
    import csv
    import io

    return list(csv.reader(io.StringIO(documents.render_csv(doc).lstrip("\ufeff"))))


@pytest.fixture
def returned(
    clock,
    shopper,
    other_shopper,
    leader_user,
    point,
    route,
    perishable,  # noqa: F811
    rice_sku,  # noqa: F811
    caplog,
    django_capture_on_commit_callbacks,
):
    """At 幸福里 (on R01): alice's rice 3 + tomato 1 and bob's rice 2 nobody collected."""
    one = paid_order(shopper, point, (rice_sku, 3), (perishable, 1))
    two = paid_order(other_shopper, point, (rice_sku, 2))
    ready(clock, leader_user, point, one, two)
    clock.move_to(DEADLINE + timedelta(minutes=20))
    caplog.set_level("INFO", logger="tuangou.sms")
    with django_capture_on_commit_callbacks(execute=True):
        result = dispose_uncollected()
    assert result.returned_units == 5 and result.leaders_told == 1
    return one, two, [m for m in _sms(caplog) if "[uncollected_return]" in m]


@pytest.fixture
def next_run(returned, clock, other_shopper, other_pickup_point, point, route, perishable):  # noqa: F811
    """The next day's run of R01: one new order at each point."""
    set_stock(sku=perishable, warehouse=point.warehouse, delivery_date=NEXT_DAY, quantity=10)
    clock.move_to(at(9, 0, day=NEXT_DAY - timedelta(days=1)))
    paid_order(other_shopper, point, (perishable, 1))
    paid_order(other_shopper, other_pickup_point, (perishable, 1))
    clock.move_to(at(23, 5, day=NEXT_DAY - timedelta(days=1)))
    return make_run(route, NEXT_DAY)


def test_the_leader_is_texted_once_to_set_the_returns_aside(
    returned, leader_user, point, caplog, django_capture_on_commit_callbacks, clock
):
    assert returned[2] == [
        f"SMS to {point.leader.phone} [uncollected_return] "
        "goods=东北大米 5kg/袋×5 orders=2 point=幸福里便利店 units=5"
    ]
    assert not UncollectedDisposal.objects.filter(
        action="returned", leader_told_at__isnull=True
    ).exists()
    # The refunded perishable is written off: nothing to carry back.
    assert UncollectedDisposal.objects.get(action="refunded").leader_told_at is None
    caplog.clear()
    clock.shift(timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert dispose_uncollected().leaders_told == 0
    assert not [m for m in _sms(caplog) if "[uncollected_return]" in m]


def test_the_next_run_lists_them_and_its_hand_over_takes_them_back_once(
    next_run, point, other_pickup_point, driver, clock
):
    run = next_run
    doc = documents.run_sheet_document(wave=run.wave, run_id=run.pk)
    rows = csv_rows(doc)
    assert rows[0][-1] == "带回未取件"
    by_point = {r[1]: r[-1] for r in rows[1:]}
    assert by_point == {point.name: "东北大米 5kg/袋×5", other_pickup_point.name: ""}
    text = pdf_text(documents.render_pdf(doc))
    assert "带回未取件" in text and "东北大米 5kg/袋×5" in text

    clock.move_to(at(7, 0, day=NEXT_DAY))
    depart_run(run=run, driver=driver)
    first, second = stops_of(run)
    assert first.pickup_point_id == point.pk
    hand_over_stop(stop=first, driver=driver)
    hand_over_stop(stop=first, driver=driver)  # a double tap
    collected = UncollectedDisposal.objects.filter(action="returned")
    assert {(d.collected_stop_id, d.collected_at) for d in collected} == {
        (first.pk, at(7, 0, day=NEXT_DAY))
    }
    # Still on this run's sheet (taken back here), and on no later run.
    assert csv_rows(documents.run_sheet_document(wave=run.wave, run_id=run.pk))[1][-1] == (
        "东北大米 5kg/袋×5"
    )
    hand_over_stop(stop=second, driver=driver)
    run.refresh_from_db()
    assert [line.collected for line in returns_for_run(run=run)[point.pk]] == [True, True]
    assert other_pickup_point.pk not in returns_for_run(run=run)


def test_the_drivers_stop_card_shows_what_to_take_back(next_run, point, driver, client, clock):
    client.force_login(driver.user)
    page = client.get(reverse("logistics:driver_run", args=[next_run.pk])).content.decode()
    assert page.count("data-returns>") == 1
    assert "带回未取件 5 件" in page and "东北大米 5kg/袋 ×3" in page
    assert "data-returns-collected" not in page
    clock.move_to(at(7, 0, day=NEXT_DAY))
    depart_run(run=next_run, driver=driver)
    hand_over_stop(stop=stops_of(next_run)[0], driver=driver)
    page = client.get(reverse("logistics:driver_run", args=[next_run.pk])).content.decode()
    assert "已带回" in page


def test_a_run_before_the_disposal_does_not_list_them(returned, route, clock):
    # The delivery day's own run (long finished in real life) never carried them.
    clock.move_to(at(9, 0))
    run = make_run(route, TOMORROW)
    assert returns_for_run(run=run) == {}

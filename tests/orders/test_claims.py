"""After-sale claims: submitted on picked-up orders, approved into a refund once, or rejected."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from orders.models import (
    AfterSaleClaim,
    ClaimPhoto,
    ClaimStatus,
    OrderKind,
    OrderStatus,
    Refund,
    RefundReason,
    RefundStatus,
)
from orders.services.claims import ClaimError, approve_claim, reject_claim, submit_claim

from . import shopper_helpers
from .conftest import NOON_ISH
from .shopper_helpers import complete, deliver, pay, place

pytestmark = pytest.mark.django_db

bound_shopper = shopper_helpers.bound_shopper
shopper_client = shopper_helpers.shopper_client


def _photo(name="bad.jpg", size=(400, 300), gps=True) -> SimpleUploadedFile:
    image = Image.new("RGB", size, (200, 40, 40))
    buffer = io.BytesIO()
    exif = Image.Exif()
    if gps:
        exif[0x010F] = "PhoneMaker"  # camera make
    image.save(buffer, "JPEG", exif=exif.tobytes())
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


@pytest.fixture
def done_order(clock, shopper, point, sku, egg_sku):
    """Picked up: 3 × 西红柿 (¥11.70) and 1 × 土鸡蛋 (¥12.80)."""
    return complete(pay(place(shopper, point, (sku, 3), (egg_sku, 1))))


def _lines(order):
    return {line.product_name: line for line in order.lines.all()}


# --- submitting ----------------------------------------------------------------------


def test_a_shopper_claims_lines_of_a_picked_up_order_with_photos(done_order, shopper):
    tomato = _lines(done_order)["西红柿"]

    claim = submit_claim(
        order=done_order,
        user=shopper,
        reason="变质腐烂: 有两个烂了",
        quantities={tomato.pk: 2},
        photos=[_photo(), _photo("second.png")],
    )

    assert claim.status == ClaimStatus.OPEN
    assert claim.reason == "变质腐烂: 有两个烂了"
    assert [(cl.order_line_id, cl.quantity) for cl in claim.lines.all()] == [(tomato.pk, 2)]
    photos = list(claim.photos.all())
    assert len(photos) == 2
    with photos[0].image.open("rb") as handle:
        stored = Image.open(handle)
        assert stored.format == "JPEG"
        assert not stored.getexif()  # camera and GPS data stripped
    assert not Refund.objects.exists()


def test_a_claim_before_pickup_is_refused(clock, shopper, point, sku):
    order = deliver(pay(place(shopper, point, (sku, 2))))
    line = order.lines.get()

    with pytest.raises(ClaimError) as caught:
        submit_claim(order=order, user=shopper, reason="坏了", quantities={line.pk: 1})

    assert caught.value.message == "取货后才能申请售后退款。"
    assert not AfterSaleClaim.objects.exists()


def test_a_claim_inside_an_open_group_is_refused(clock, shopper, point, sku):
    order = place(shopper, point, (sku, 1), kind=OrderKind.GROUP)
    order = pay(order)
    assert order.status == OrderStatus.AWAITING_GROUP

    with pytest.raises(ClaimError) as caught:
        submit_claim(order=order, user=shopper, reason="坏了", quantities={order.lines.get().pk: 1})

    assert caught.value.message == "这个拼团还没结束，暂时不能申请售后。"
    assert not AfterSaleClaim.objects.exists()


def test_a_claim_after_the_window_is_refused(done_order, shopper, settings):
    settings.AFTER_SALE_WINDOW_DAYS = 2
    line = _lines(done_order)["西红柿"]

    with (
        time_machine.travel(NOON_ISH + timedelta(days=3), tick=False),
        pytest.raises(ClaimError) as caught,
    ):
        submit_claim(order=done_order, user=shopper, reason="坏了", quantities={line.pk: 1})

    assert caught.value.message == "这个订单已过售后申请期限。"


def test_more_than_was_picked_up_cannot_be_claimed(done_order, shopper):
    line = _lines(done_order)["西红柿"]

    with pytest.raises(ClaimError) as caught:
        submit_claim(order=done_order, user=shopper, reason="坏了", quantities={line.pk: 4})

    assert caught.value.message == "西红柿 最多可申请 3 件。"
    assert not AfterSaleClaim.objects.exists()


def test_units_in_an_open_claim_cannot_be_claimed_again(done_order, shopper):
    line = _lines(done_order)["西红柿"]
    submit_claim(order=done_order, user=shopper, reason="坏了", quantities={line.pk: 2})

    with pytest.raises(ClaimError):
        submit_claim(order=done_order, user=shopper, reason="又坏了", quantities={line.pk: 2})
    submit_claim(order=done_order, user=shopper, reason="又坏了", quantities={line.pk: 1})

    assert AfterSaleClaim.objects.count() == 2


def test_a_line_of_another_order_cannot_be_claimed(done_order, shopper, point, sku):
    other = complete(pay(place(shopper, point, (sku, 1))))

    with pytest.raises(ClaimError):
        submit_claim(
            order=done_order, user=shopper, reason="坏了", quantities={other.lines.get().pk: 1}
        )
    assert not AfterSaleClaim.objects.exists()


def test_another_shopper_cannot_claim_on_my_order(done_order, other_shopper):
    line = _lines(done_order)["西红柿"]

    with pytest.raises(ClaimError):
        submit_claim(order=done_order, user=other_shopper, reason="坏了", quantities={line.pk: 1})
    assert not AfterSaleClaim.objects.exists()


def test_a_file_that_is_not_a_picture_writes_nothing(done_order, shopper, settings):
    line = _lines(done_order)["西红柿"]
    fake = SimpleUploadedFile("x.jpg", b"not a picture at all", content_type="image/jpeg")

    with pytest.raises(ClaimError) as caught:
        submit_claim(
            order=done_order,
            user=shopper,
            reason="坏了",
            quantities={line.pk: 1},
            photos=[_photo(), fake],
        )

    assert "图片" in caught.value.message or "JPG" in caught.value.message
    assert not AfterSaleClaim.objects.exists()
    assert not ClaimPhoto.objects.exists()
    claims_dir = settings.MEDIA_ROOT / "orders" / "claims"
    assert not claims_dir.exists() or not any(p.is_file() for p in claims_dir.rglob("*"))


def test_at_most_three_photos(done_order, shopper):
    line = _lines(done_order)["西红柿"]

    with pytest.raises(ClaimError):
        submit_claim(
            order=done_order,
            user=shopper,
            reason="坏了",
            quantities={line.pk: 1},
            photos=[_photo() for _ in range(4)],
        )
    assert not AfterSaleClaim.objects.exists()


# --- reviewing ---------------------------------------------------------------------------


def test_approving_refunds_the_claimed_units_once_as_after_sale(
    done_order, shopper, operator, django_capture_on_commit_callbacks
):
    line = _lines(done_order)["西红柿"]
    claim = submit_claim(order=done_order, user=shopper, reason="坏了", quantities={line.pk: 2})

    with django_capture_on_commit_callbacks(execute=True):
        refund = approve_claim(claim=claim, actor=operator)
    again = approve_claim(claim=claim, actor=operator)

    assert again.pk == refund.pk
    assert Refund.objects.count() == 1
    refund.refresh_from_db()
    assert refund.reason == RefundReason.AFTER_SALE
    assert refund.amount == Decimal("7.80")
    assert refund.status == RefundStatus.SUCCEEDED  # the sandbox refunds at once
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.APPROVED
    assert claim.refund_id == refund.pk
    assert claim.reviewed_by == operator
    line.refresh_from_db()
    assert (line.refunded_quantity, line.refunded_amount) == (2, Decimal("7.80"))
    assert line.handed_out_quantity == 3  # what was handed out stays on record
    done_order.refresh_from_db()
    assert done_order.status == OrderStatus.COMPLETED
    assert done_order.refunded_amount == Decimal("7.80")
    assert done_order.notices.filter(kind="claim_approved").count() == 1


def test_after_approval_only_the_rest_can_be_claimed(done_order, shopper, operator):
    line = _lines(done_order)["西红柿"]
    claim = submit_claim(order=done_order, user=shopper, reason="坏了", quantities={line.pk: 2})
    approve_claim(claim=claim, actor=operator)
    done_order.refresh_from_db()

    with pytest.raises(ClaimError):
        submit_claim(order=done_order, user=shopper, reason="坏了", quantities={line.pk: 2})
    submit_claim(order=done_order, user=shopper, reason="坏了", quantities={line.pk: 1})


def test_rejecting_needs_a_reason_and_refunds_nothing(done_order, shopper, operator):
    line = _lines(done_order)["西红柿"]
    claim = submit_claim(order=done_order, user=shopper, reason="坏了", quantities={line.pk: 1})

    with pytest.raises(ClaimError):
        reject_claim(claim=claim, actor=operator, reason="  ")
    reject_claim(claim=claim, actor=operator, reason="照片看不出问题")

    claim.refresh_from_db()
    assert claim.status == ClaimStatus.REJECTED
    assert claim.reject_reason == "照片看不出问题"
    assert not Refund.objects.exists()
    with pytest.raises(ClaimError):
        approve_claim(claim=claim, actor=operator)
    assert not Refund.objects.exists()
    assert done_order.notices.filter(kind="claim_rejected").count() == 1


# --- the page ----------------------------------------------------------------------------------


def test_the_claim_page_submits_a_claim_with_photos(
    clock, shopper_client, bound_shopper, point, sku
):
    order = complete(pay(place(bound_shopper, point, (sku, 3))))
    line = order.lines.get()
    url = reverse("orders:claim", args=[order.code])

    page = shopper_client.get(url)
    assert page.status_code == 200
    assert "申请售后的商品" in page.content.decode()
    response = shopper_client.post(
        url,
        {
            "reason": "spoiled",
            "detail": "有一个烂了",
            f"line_{line.pk}": "1",
            "photos": [_photo()],
            "price": "999",
        },
    )

    assert response.status_code == 302
    claim = AfterSaleClaim.objects.get()
    assert claim.reason == "变质腐烂: 有一个烂了"
    assert claim.photos.count() == 1
    detail = shopper_client.get(reverse("orders:detail", args=[order.code])).content.decode()
    assert "审核中" in detail


def test_the_claim_page_asks_for_items(clock, shopper_client, bound_shopper, point, sku):
    order = complete(pay(place(bound_shopper, point, (sku, 3))))

    response = shopper_client.post(
        reverse("orders:claim", args=[order.code]), {"reason": "quality"}
    )

    assert response.status_code == 400
    assert "请选择要申请售后的商品和数量" in response.content.decode()
    assert not AfterSaleClaim.objects.exists()


def test_the_claim_page_of_an_order_not_picked_up_sends_back(
    clock, shopper_client, bound_shopper, point, sku
):
    order = pay(place(bound_shopper, point, (sku, 3)))

    response = shopper_client.post(
        reverse("orders:claim", args=[order.code]),
        {"reason": "quality", f"line_{order.lines.get().pk}": "1"},
    )

    assert response["Location"] == reverse("orders:detail", args=[order.code])
    assert not AfterSaleClaim.objects.exists()


def test_the_detail_page_with_claims_runs_a_fixed_number_of_queries(
    clock, shopper_client, bound_shopper, point, sku, egg_sku, django_assert_num_queries
):
    order = complete(pay(place(bound_shopper, point, (sku, 3), (egg_sku, 2))))
    lines = _lines(order)
    submit_claim(order=order, user=bound_shopper, reason="a", quantities={lines["西红柿"].pk: 1})
    submit_claim(order=order, user=bound_shopper, reason="b", quantities={lines["土鸡蛋"].pk: 1})
    # user (the session is read from Redis), order, lines, events, claims, claim
    # lines, claim photos, pickup point, the tab bar's cart count
    with django_assert_num_queries(9):
        response = shopper_client.get(reverse("orders:detail", args=[order.code]))
    assert len(response.context["page"].claims) == 2

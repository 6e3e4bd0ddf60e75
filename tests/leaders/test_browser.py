"""Done-when of issue #4, in a phone browser: apply, approval, QR code, binding."""

from __future__ import annotations

from pathlib import Path

import pytest

from leaders import sharing
from leaders.models import BindingSource, Leader, ShopperBinding

from .browsers import new_phone
from .factories import png_bytes


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_apply_approve_download_qr_and_a_neighbour_is_bound(
    browser, browser_context_args, live_server, settings, make_user, operator, community
):
    settings.SITE_URL = live_server.url
    newbie = make_user("newbie", "+8613800000021", "新团长小美")
    neighbour = make_user("neighbour", "+8613800000022", "隔壁刘阿姨")

    # 1. A new user applies on a phone.
    context, page = new_phone(browser, browser_context_args, live_server, newbie)
    page.goto(f"{live_server.url}/leader/apply/")
    page.fill("input[name=real_name]", "林小美")
    page.fill("input[name=phone]", "138 0000 0021")
    page.select_option("select[name=community]", str(community.pk))
    page.select_option("select[name=kind]", "parent")
    page.fill("input[name=point_name]", "幸福里5栋小美")
    page.fill("input[name=address]", "麓谷大道100号幸福里5栋架空层")
    page.fill("input[name=open_0]", "08:00")
    page.fill("input[name=close_0]", "20:30")
    page.click("[data-copy-hours]")
    page.set_input_files(
        "input[name=storefront_photo]",
        {"name": "shop.png", "mimeType": "image/png", "buffer": png_bytes()},
    )
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/leader/application/")
    assert page.locator("[data-application-status]").inner_text() == "待审核"

    # 2. An operator approves it in the admin.
    op_context, op_page = new_phone(browser, browser_context_args, live_server, operator)
    op_page.goto(f"{live_server.url}/admin/leaders/leaderapplication/")
    op_page.check("input[name=_selected_action]")
    op_page.select_option("select[name=action]", "approve_selected")
    op_page.click("button[name=index]")
    assert "已通过 1 份申请。" in op_page.locator(".messagelist").inner_text()
    leader = Leader.objects.get(user=newbie)
    op_context.close()

    # 3. The new leader downloads the QR code of their share link.
    page.goto(f"{live_server.url}/leader/")
    assert "幸福里5栋小美" in page.inner_text("main")
    with page.expect_download() as download_info:
        page.click("[data-qr-png]")
    download = download_info.value
    assert download.suggested_filename == f"tuangou-{leader.share_code}.png"
    qr = Path(download.path()).read_bytes()
    share_url = f"{live_server.url}/leader/s/{leader.share_code}/"
    # The downloaded picture is exactly the QR code of the share link.
    assert qr == sharing.qr_png(share_url)
    context.close()

    # 4. A neighbour opens the code's link and is bound to the leader's point.
    n_context, n_page = new_phone(browser, browser_context_args, live_server, neighbour)
    n_page.goto(share_url)
    n_page.wait_for_url(f"{live_server.url}/")
    assert "已绑定自提点：幸福里5栋小美。" in n_page.inner_text("body")
    binding = ShopperBinding.objects.get(user=neighbour)
    assert binding.pickup_point.name == "幸福里5栋小美"
    assert binding.leader == leader
    assert binding.source == BindingSource.SHARE_LINK
    n_context.close()

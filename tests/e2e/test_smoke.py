"""The home page at a phone viewport in Debian's headless Chromium."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_home_page_shows_the_tab_bar_on_a_phone(page, live_server):
    page.goto(live_server.url + "/")
    assert page.viewport_size == {"width": 390, "height": 844}
    tabbar = page.get_by_role("navigation", name="主导航")
    for label in ("首页", "分类", "订单", "我的"):
        assert tabbar.get_by_role("link", name=label).is_visible()
    box = tabbar.bounding_box()
    assert box["y"] + box["height"] == pytest.approx(844, abs=40)
    tabbar.get_by_role("link", name="我的").click()
    page.wait_for_url("**/me/")
    assert page.get_by_role("link", name="短信验证码登录").is_visible()

from __future__ import annotations

import pytest

SANDBOX_APP_ID = "wxsandbox0000demo"


@pytest.fixture
def wechat_sandbox(settings):
    """WeChat sign-in through the demo's 模拟微信授权, as settings.py sets it up
    in development (WECHAT_LOGIN_SANDBOX)."""
    settings.SOCIALACCOUNT_PROVIDERS = {
        "weixin": {
            "APPS": [{"client_id": SANDBOX_APP_ID, "secret": "sandbox-secret", "key": ""}],
            "SCOPE": ["snsapi_userinfo"],
            "SANDBOX": True,
        }
    }


@pytest.fixture
def no_wechat(settings):
    """The default: no WeChat app configured."""
    settings.SOCIALACCOUNT_PROVIDERS = {}

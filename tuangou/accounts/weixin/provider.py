"""allauth's weixin provider, keyed on unionid when WeChat sends one.

An openid is different for each AppID (the official account inside WeChat and
the website QR login are two AppIDs), so the same person would get two
accounts; the unionid is the same across the AppIDs of one open platform.
"""

from allauth.socialaccount.providers.weixin.provider import WeixinProvider

from .views import TuangouWeixinOAuth2Adapter


class UnionIdWeixinProvider(WeixinProvider):
    oauth2_adapter_class = TuangouWeixinOAuth2Adapter

    def extract_uid(self, data):
        return data.get("unionid") or data["openid"]


provider_classes = [UnionIdWeixinProvider]

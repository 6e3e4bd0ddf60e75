from django.apps import AppConfig


class WeixinConfig(AppConfig):
    name = "tuangou.accounts.weixin"
    label = "tuangou_weixin"

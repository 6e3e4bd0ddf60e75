from allauth.socialaccount.providers.oauth2.urls import default_urlpatterns
from django.urls import path

from . import views
from .provider import UnionIdWeixinProvider

# allauth mounts these under /accounts/ (weixin/login/, weixin/login/callback/).
urlpatterns = [
    *default_urlpatterns(UnionIdWeixinProvider),
    path("weixin/sandbox/authorize/", views.sandbox_authorize, name="weixin_sandbox_authorize"),
]

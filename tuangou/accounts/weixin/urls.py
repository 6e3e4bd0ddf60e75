from allauth.socialaccount.providers.oauth2.urls import default_urlpatterns

from .provider import UnionIdWeixinProvider

urlpatterns = default_urlpatterns(UnionIdWeixinProvider)

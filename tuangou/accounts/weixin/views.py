from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.weixin.views import WeixinOAuth2Adapter


class TuangouWeixinOAuth2Adapter(WeixinOAuth2Adapter):
    # WeChat documents sns/oauth2/access_token as a GET with query parameters.
    access_token_method = "GET"  # noqa: S105 - an HTTP method, not a secret


oauth2_login = OAuth2LoginView.adapter_view(TuangouWeixinOAuth2Adapter)
oauth2_callback = OAuth2CallbackView.adapter_view(TuangouWeixinOAuth2Adapter)

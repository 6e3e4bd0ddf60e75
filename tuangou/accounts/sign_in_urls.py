"""Sign-in pages of our own, mounted under /accounts/ before allauth's."""

from django.urls import path

from . import sign_in

urlpatterns = [
    # Replaces allauth's view of the same name and path.
    path("login/code/confirm/", sign_in.confirm_login_code, name="account_confirm_login_code"),
    # Replaces allauth's signup: the account is made once the code is entered.
    path("signup/", sign_in.sign_up, name="account_signup"),
    path("login/code/change/", sign_in.change_login_phone, name="account_change_login_phone"),
    # Replaces allauth's social signup: a taken phone binds by its code.
    path("3rdparty/signup/", sign_in.wechat_bind_phone, name="socialaccount_signup"),
]

from django.urls import path  # noqa: F401

from .views import coupons as coupon_views
from .views import points as points_views

app_name = "marketing"

urlpatterns: list = []
# Coupons and points (M1): /promo/coupons/…, /promo/points/
urlpatterns += coupon_views.urlpatterns + points_views.urlpatterns

from django.urls import path  # noqa: F401

from .views import coupons as coupon_views
from .views import flash as flash_views
from .views import points as points_views
from .views import referrals as referral_views
from .views import stats as stats_views

app_name = "marketing"

urlpatterns: list = []
# Coupons and points (M1): /promo/coupons/…, /promo/points/
urlpatterns += coupon_views.urlpatterns + points_views.urlpatterns
# 限时秒杀 (M2): /promo/flash/, /promo/flash/<item>/grab/
urlpatterns += flash_views.urlpatterns
# 老带新 (M2): /promo/invite/, /promo/invite/<code>/
urlpatterns += referral_views.urlpatterns
# Campaign statistics (M2, staff): /promo/stats/
urlpatterns += stats_views.urlpatterns

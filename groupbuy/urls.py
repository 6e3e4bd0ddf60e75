from django.urls import path

from . import views

app_name = "groupbuy"

urlpatterns = [
    path("c/<str:campaign_code>/open/", views.open_new, name="open"),
    path("g/<str:code>/", views.group_page, name="group"),
    path("g/<str:code>/join/", views.join, name="join"),
    path("g/<str:code>/s/<str:share_code>/", views.share, name="share"),
    path("g/<str:code>/qr.<str:fmt>", views.qr, name="qr"),
    path("g/<str:code>/card.png", views.card, name="card"),
]

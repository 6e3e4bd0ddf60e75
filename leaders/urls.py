from django.urls import path, register_converter

from . import views


class QrFormat:
    regex = "svg|png"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(QrFormat, "qrfmt")

app_name = "leaders"

urlpatterns = [
    # leader desk (approved, active leaders only)
    path("", views.home, name="home"),
    path("customers/", views.customers, name="customers"),
    path("points/new/", views.point_new, name="point_new"),
    path("points/<int:pk>/", views.point_detail, name="point"),
    path("points/<int:pk>/address/", views.point_address, name="point_address"),
    path("points/<int:pk>/photos/", views.point_photo_add, name="point_photo_add"),
    path(
        "points/<int:pk>/photos/<int:photo_pk>/delete/",
        views.point_photo_delete,
        name="point_photo_delete",
    ),
    path("points/<int:pk>/pauses/", views.point_pause, name="point_pause"),
    path(
        "points/<int:pk>/pauses/<int:pause_pk>/delete/",
        views.point_resume,
        name="point_resume",
    ),
    path("share/qr.<qrfmt:fmt>", views.share_qr, name="share_qr"),
    path("share/p/<str:ref>/qr.<qrfmt:fmt>", views.share_product_qr, name="share_product_qr"),
    path("share/p/<str:ref>/card.png", views.share_product_card, name="share_product_card"),
    # applying
    path("apply/", views.apply, name="apply"),
    path("application/", views.application, name="application"),
    # shoppers
    path("points/choose/", views.choose_point, name="choose_point"),
    path("s/<str:share_code>/", views.share_shop, name="share_shop"),
    path("s/<str:share_code>/p/<str:ref>/", views.share_product, name="share_product"),
    path("s/<str:share_code>/switch/", views.share_switch, name="share_switch"),
]

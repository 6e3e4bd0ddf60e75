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
    path(
        "applications/<int:pk>/storefront-photo/",
        views.application_photo,
        name="application_photo",
    ),
    # shoppers
    path("points/choose/", views.choose_point, name="choose_point"),
    path("s/<str:share_code>/", views.share_shop, name="share_shop"),
    path("s/<str:share_code>/p/<str:ref>/", views.share_product, name="share_product"),
    path("s/<str:share_code>/switch/", views.share_switch, name="share_switch"),
]

# Commission (issue #7): the leader's money pages and the finance pages.
from .commission import views as money_views  # noqa: E402

urlpatterns += [
    path("money/", money_views.money, name="money"),
    path("money/entries/", money_views.money_entries, name="money_entries"),
    path("money/statements/", money_views.money_statements, name="money_statements"),
    path(
        "money/statements/<str:code>.pdf",
        money_views.money_statement_pdf,
        name="money_statement_pdf",
    ),
    path("money/withdraw/", money_views.money_withdraw, name="money_withdraw"),
    path("finance/", money_views.finance, name="finance"),
    path("finance/periods/<str:start>/", money_views.finance_period, name="finance_period"),
    path(
        "finance/periods/<str:start>/settlements.csv",
        money_views.finance_period_csv,
        name="finance_period_csv",
    ),
    path(
        "finance/periods/<str:start>/statements.zip",
        money_views.finance_period_zip,
        name="finance_period_zip",
    ),
    path(
        "finance/statements/<str:code>.pdf",
        money_views.finance_statement_pdf,
        name="finance_statement_pdf",
    ),
    path(
        "finance/statements/<str:code>/regenerate/",
        money_views.finance_regenerate,
        name="finance_regenerate",
    ),
    path("finance/withdrawals/", money_views.finance_withdrawals, name="finance_withdrawals"),
    path(
        "finance/withdrawals/<str:number>/<str:action>/",
        money_views.finance_withdrawal_action,
        name="finance_withdrawal_action",
    ),
    path("finance/payouts/", money_views.finance_payout, name="finance_payout"),
    path(
        "finance/payouts/<str:number>.csv", money_views.finance_batch_csv, name="finance_batch_csv"
    ),
]

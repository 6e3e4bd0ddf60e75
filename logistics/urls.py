from django.urls import path  # noqa: F401

from .views import driver, purchasing, reports, warehouse  # noqa: F401

app_name = "logistics"

# Each area adds its own lines: warehouse (the day's wave and documents),
# purchasing (purchase orders, receiving), driver (配送员 phone pages),
# reports (物流数据: delivery efficiency).
urlpatterns: list = []

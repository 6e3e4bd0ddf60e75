from django.urls import path

from .views import driver, purchasing, reports, warehouse

app_name = "logistics"

# Each area adds its own lines: warehouse (the day's wave and documents),
# purchasing (purchase orders, receiving), driver (配送员 phone pages),
# reports (物流数据: delivery efficiency).
urlpatterns: list = []

# Warehouse (仓库): the day's wave, floor ticks, documents.
urlpatterns += [
    path("warehouse/", warehouse.warehouse_day, name="warehouse_day"),
    path("warehouse/start/", warehouse.wave_start, name="wave_start"),
    path("warehouse/status/", warehouse.day_status, name="day_status"),
    path("warehouse/wave/<int:wave_id>/status/", warehouse.wave_status, name="wave_status"),
    path(
        "warehouse/wave/<int:wave_id>/picking/<slug:storage_class>/",
        warehouse.picking,
        name="picking",
    ),
    path(
        "warehouse/wave/<int:wave_id>/pick/<int:item_id>/",
        warehouse.pick_item,
        name="pick_item",
    ),
    path("warehouse/wave/<int:wave_id>/packing/", warehouse.packing, name="packing"),
    path(
        "warehouse/wave/<int:wave_id>/pack/<int:item_id>/",
        warehouse.pack_item,
        name="pack_item",
    ),
    path(
        "warehouse/wave/<int:wave_id>/pack-point/<int:point_id>/",
        warehouse.pack_point,
        name="pack_point",
    ),
    path(
        "warehouse/wave/<int:wave_id>/documents/<slug:kind>.<slug:fmt>",
        warehouse.wave_document,
        name="wave_document",
    ),
]

# Driver (配送员): today's runs, a run's stops, the buttons, a stop's photo.
urlpatterns += [
    path("driver/", driver.today, name="driver_today"),
    path("driver/runs/<int:pk>/", driver.run_page, name="driver_run"),
    path("driver/runs/<int:pk>/depart/", driver.depart, name="driver_depart"),
    path("driver/stops/<int:pk>/arrive/", driver.arrive, name="driver_arrive"),
    path("driver/stops/<int:pk>/hand-over/", driver.hand_over, name="driver_hand_over"),
    path("driver/stops/<int:pk>/exception/", driver.report_exception, name="driver_exception"),
    path("stop-photos/<int:pk>/", driver.stop_photo, name="stop_photo"),
]

# Reports (物流数据): delivery efficiency for operators, its CSV/XLSX export.
urlpatterns += [
    path("reports/efficiency/", reports.efficiency, name="efficiency"),
    path(
        "reports/efficiency/export.<slug:fmt>",
        reports.efficiency_export,
        name="efficiency_export",
    ),
]

# Purchasing (采购): purchase orders, sending, receiving, the supplier's copy.
urlpatterns += [
    path("purchasing/", purchasing.purchase_orders, name="purchase_orders"),
    path(
        "purchasing/waves/<int:wave_id>/redraft/",
        purchasing.redraft,
        name="purchase_orders_redraft",
    ),
    path("purchasing/<str:number>/", purchasing.purchase_order, name="purchase_order"),
    path("purchasing/<str:number>/send/", purchasing.send, name="purchase_order_send"),
    path("purchasing/<str:number>/cancel/", purchasing.cancel, name="purchase_order_cancel"),
    path("purchasing/<str:number>/receive/", purchasing.receive, name="purchase_order_receive"),
    path(
        "purchasing/<str:number>/export.<slug:fmt>",
        purchasing.export,
        name="purchase_order_export",
    ),
]

from django.urls import path

app_name = "analytics"

urlpatterns: list = []

# Report jobs (analytics/views/jobs.py): exports made by a worker, kept for download.
from .views import jobs as job_views  # noqa: E402

urlpatterns += [
    path("jobs/", job_views.jobs, name="jobs"),
    path("jobs/<str:code>/", job_views.job, name="job"),
    path("jobs/<str:code>/cancel/", job_views.job_cancel, name="job_cancel"),
    path("jobs/<str:code>/download/", job_views.job_download, name="job_download"),
]

# Dashboard and reports (analytics/views/dashboard.py, reports.py): read the facts.
from .views import dashboard as dashboard_views  # noqa: E402
from .views import reports as report_views  # noqa: E402

urlpatterns += [
    path("", dashboard_views.dashboard, name="dashboard"),
    path("sales/", report_views.sales, name="sales"),
    path("leaders/", report_views.leaders, name="leaders"),
    path("leaders/<int:leader_id>/", report_views.leader, name="leader"),
    path("me/", report_views.my_performance, name="my_performance"),
    path("shoppers/", report_views.behaviour, name="behaviour"),
    path("groupbuy/", report_views.groupbuy, name="groupbuy"),
    path("delivery/", report_views.delivery, name="delivery"),
]

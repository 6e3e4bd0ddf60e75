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

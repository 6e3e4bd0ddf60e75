"""Settings for `make bench`: the production settings, plus one bare view.

The environment is filled with production values (DEBUG off, a SECRET_KEY,
SITE_URL, ALLOWED_HOSTS) before tuangou.settings reads it, so the app under
load runs exactly as deployed; only the URLconf differs (benchmarks.urls adds
/bench/bare/, the one-query anchor view). The runner (benchmarks/run.py) sets
DATABASE_URL and REDIS_URL to the bench's own database and Redis DB.
"""

import os

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-only-7f3c9a1e5d2b8c4f6a0e9d3b7c1f5a2e8d4b6c0a9f3e7d1b5c")
os.environ.setdefault("SITE_URL", "https://127.0.0.1")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
# No SMS or mail leaves the machine during a benchmark.
os.environ.setdefault("SMS_LOG_IN_PRODUCTION", "true")
os.environ.setdefault("EMAIL_LOG_IN_PRODUCTION", "true")

from tuangou.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.urls"

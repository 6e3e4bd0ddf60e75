"""gunicorn settings for production: `gunicorn -c deploy/gunicorn.conf.py tuangou.wsgi`.

The worker class and counts were measured on a 2-core box (docs/scaling.md,
"Serving"). Every value can be changed by environment variable without a
rebuild: GUNICORN_WORKERS, GUNICORN_THREADS, GUNICORN_WORKER_CLASS, ...
The command line wins over this file (`--bind` in the benchmark harness).
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


_cores = multiprocessing.cpu_count()

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# gthread: keeps client connections alive (sync answers Connection: close), and a thread
# waiting on PostgreSQL or Redis lets the other run. Measured here against 4
# sync workers: the same CPU per request, more requests served on the shared
# box and no dropped keep-alive connections (docs/scaling.md, "Serving").
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
workers = _int("GUNICORN_WORKERS", 2 * _cores)
# Threads per worker (gthread only). Each thread keeps its own database
# connection (CONN_MAX_AGE), so connections = workers x threads per node.
threads = _int("GUNICORN_THREADS", 2)
# Behind nginx: it buffers slow clients, so sync workers never wait on a phone's network.
backlog = _int("GUNICORN_BACKLOG", 2048)
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Recycle workers now and then (a slow leak never grows into an outage);
# the jitter keeps them from restarting together.
max_requests = _int("GUNICORN_MAX_REQUESTS", 20000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 2000)
# Load the app once in the master, fork workers from it: less memory, and a
# broken deploy fails at start rather than in every worker. Database
# connections and pools are opened lazily in each worker, never in the master.
preload_app = os.environ.get("GUNICORN_PRELOAD", "true").lower() in {"1", "true", "yes"}
# Heartbeat files in memory, not on a container's overlay disk.
_SHM = "/dev/shm"  # noqa: S108 - gunicorn's documented choice for worker_tmp_dir
_default_tmp = _SHM if os.path.isdir(_SHM) else None
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR") or _default_tmp
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None  # nginx logs requests
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# nginx is the only client; trust its X-Forwarded-* headers.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "*")

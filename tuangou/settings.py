"""Tuangou settings: one module, read from the environment.

Every value comes from an environment variable (or a `.env` file beside
manage.py). A malformed value stops start-up with a one-line reason instead
of a traceback deep inside Django.
"""

from __future__ import annotations

import importlib
import os
import sys
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlparse

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _fail(reason: str) -> NoReturn:
    """Stop start-up (web, worker, beat, manage.py) with a single readable line."""
    sys.stderr.write(f"Tuangou configuration error: {reason}\n")
    raise SystemExit(1)


def _read(name: str, cast, default):
    try:
        return cast(name, default=default)
    except (ValueError, ImproperlyConfigured) as exc:
        _fail(f"{name} is invalid: {exc}")


DEBUG = _read("DEBUG", env.bool, False)
TESTING = "pytest" in sys.modules or env.bool("TESTING", default=False)

# Code-only commands (no request served, no data read) run without secrets,
# so a fresh checkout can check its migrations and catalogues.
CODE_ONLY_COMMAND = len(sys.argv) > 1 and sys.argv[1] in {
    "makemigrations",
    "makemessages",
    "compilemessages",
}

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG and not TESTING and not CODE_ONLY_COMMAND:
        _fail("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-dev-only-key-do-not-use-in-production"
elif not DEBUG and (len(SECRET_KEY) < 50 or SECRET_KEY.startswith("insecure")):
    _fail("SECRET_KEY is too weak for production (50+ random characters)")

ALLOWED_HOSTS = _read("ALLOWED_HOSTS", env.list, ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = _read("CSRF_TRUSTED_ORIGINS", env.list, [])
# Share links, QR codes and payment notify URLs are absolute: production
# must say where it lives. Elsewhere the site is where the dev server listens:
# HOST and PORT, the variables scripts/run.py (`make run`) serves on, so a
# shared link works on PORT=8001 too.
if not DEBUG and not TESTING and not CODE_ONLY_COMMAND and not os.environ.get("SITE_URL"):
    _fail("SITE_URL must be set when DEBUG is off (e.g. https://tuan.example.cn)")


def _dev_site_url() -> str:
    host = env.str("HOST", default="") or "127.0.0.1"
    port = env.str("PORT", default="") or "8000"
    if not port.isdigit() or not 0 < int(port) < 65536:
        _fail(f"PORT is invalid: {port!r} (a port number such as 8000)")
    if host in {"0.0.0.0", "::"}:  # noqa: S104 - compared with, never bound
        # Listening everywhere is no address to link to; scripts/run.py puts
        # the machine's LAN address in SITE_URL in that case.
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


SITE_URL = (os.environ.get("SITE_URL") or _dev_site_url()).rstrip("/")
if not SITE_URL.startswith(("http://", "https://")):
    _fail(f"SITE_URL must start with http:// or https://, not {SITE_URL!r}")

# --- apps -------------------------------------------------------------------
# Order follows the import DAG of docs/architecture.md.
LOCAL_APPS = [
    "tuangou.accounts",
    "tuangou.outbox",
    "catalog",
    "leaders",
    "marketing",
    "orders",
    "groupbuy",
    "logistics",
    "analytics",
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "django_htmx",
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "tuangou.accounts.weixin",
    "axes",
    # The audit trail on money and stock (tuangou/audit.py).
    "pgtrigger",
    "pghistory",
    "csp",
    *LOCAL_APPS,
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every response (CONTENT_SECURITY_POLICY below).
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # A NUL character anywhere in the request: 400, before any lookup (PostgreSQL
    # text cannot hold it).
    "tuangou.request_guard.RejectNulMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's, with the signed-in user from Redis (tuangou/accounts/user_cache.py).
    "tuangou.accounts.user_cache.AuthenticationMiddleware",
    # Who and where for the audit trail's events (a staff member's writes).
    "tuangou.audit.StaffHistoryMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Last: turns a locked-out password login into the lockout page.
    "axes.middleware.AxesMiddleware",
    # A lost database connection: 503 with a clear page, not 500 (issue #15).
    "tuangou.db_errors.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "tuangou.urls"
WSGI_APPLICATION = "tuangou.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tuangou.context_processors.site",
                "leaders.context_processors.pickup_point",
            ],
        },
    },
]

# --- database ---------------------------------------------------------------
_database_url = env.str("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/tuangou")
_scheme = urlparse(_database_url).scheme
if not _scheme or "://" not in _database_url:
    _fail(f"DATABASE_URL is malformed: {_database_url!r} (expected postgres://user@host:port/name)")
if _scheme not in {"postgres", "postgresql", "pgsql"}:
    _fail(f"DATABASE_URL must point at PostgreSQL (postgres://...), not {_scheme}://")
try:
    DATABASES = {"default": environ.Env.db_url_config(_database_url)}
except (ValueError, KeyError) as exc:
    _fail(f"DATABASE_URL is malformed: {exc}")
# Connections are reused, never opened per request: either psycopg's pool
# (DATABASE_POOL) or persistent connections (CONN_MAX_AGE).
DATABASE_POOL = _read("DATABASE_POOL", env.bool, False)
if DATABASE_POOL:
    # Per process: gunicorn workers (and their threads) each hold their own.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": _read("DATABASE_POOL_MIN_SIZE", env.int, 2),
        "max_size": _read("DATABASE_POOL_MAX_SIZE", env.int, 8),
        "timeout": _read("DATABASE_POOL_TIMEOUT", env.float, 10.0),
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps them instead
else:
    DATABASES["default"]["CONN_MAX_AGE"] = _read("CONN_MAX_AGE", env.int, 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Behind PgBouncer in transaction mode a cursor cannot outlive its transaction.
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = _read("DATABASE_PGBOUNCER", env.bool, False)
DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME", default="test_tuangou")}
# Reports and exports read from a replica when there is one (tuangou/db_router.py).
_replica_url = env.str("DATABASE_REPLICA_URL", default="")
if _replica_url:
    if urlparse(_replica_url).scheme not in {"postgres", "postgresql", "pgsql"}:
        _fail("DATABASE_REPLICA_URL must point at PostgreSQL (postgres://...)")
    try:
        DATABASES["replica"] = environ.Env.db_url_config(_replica_url)
    except (ValueError, KeyError) as exc:
        _fail(f"DATABASE_REPLICA_URL is malformed: {exc}")
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"]["CONN_MAX_AGE"]
    if DATABASE_POOL:
        DATABASES["replica"].setdefault("OPTIONS", {})["pool"] = dict(
            DATABASES["default"]["OPTIONS"]["pool"]
        )
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = True
    # Tests have no second server: the replica is the test database itself.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["tuangou.db_router.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- redis, cache, celery ---------------------------------------------------
if TESTING:
    # Each pytest-xdist worker gets its own Redis database: its own cache, rate
    # limits and Celery queues, never shared with a running dev worker (db 0).
    _worker = env.str("PYTEST_XDIST_WORKER", default="gw-1").removeprefix("gw")
    _REDIS_DEFAULT = f"redis://127.0.0.1:6379/{min(15, 10 + int(_worker or 0))}"
else:
    _REDIS_DEFAULT = "redis://127.0.0.1:6379/0"
REDIS_URL = _read("REDIS_URL", env.str, _REDIS_DEFAULT)
if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    _fail("REDIS_URL must start with redis://, rediss:// or unix://")

CACHES = {
    "default": {
        "BACKEND": "tuangou.cache.RedisCache",
        "LOCATION": env.str("CACHE_URL", default=REDIS_URL),
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="tuangou"),
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            # Redis down: the cache degrades instead of failing the request
            # (reads miss, writes are dropped, `add` counts as not taken);
            # sessions fall back to PostgreSQL (cached_db), rate limits stop
            # counting (tuangou/cache.py logs it in one line). A hung Redis
            # costs a request at most these seconds.
            # docs/reliability.md "Redis down" (issue #15).
            "IGNORE_EXCEPTIONS": True,
            "SOCKET_CONNECT_TIMEOUT": 1,
            "SOCKET_TIMEOUT": 2,
        },
    }
}
if _read("CACHE_LOCAL", env.bool, False):
    # Only for `make run` without Redis: a per-process cache.
    CACHES["default"] = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}

CELERY_BROKER_URL = _read("CELERY_BROKER_URL", env.str, REDIS_URL)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A task whose ETA lies beyond the visibility timeout would be delivered
    # twice on Redis; far deadlines go through beat and sweepers instead.
    "visibility_timeout": 12 * 3600,
}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = Path(env.str("CELERY_FS_DIR", default=str(BASE_DIR / "var" / "broker")))
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
    }
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = _read("CELERY_TASK_ALWAYS_EAGER", env.bool, False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = "Asia/Shanghai"
# One queue per kind of work, so a flood of one kind (the evening's notices,
# a month-end statement run) never delays another (payment deadlines, the
# cutoff). docker-compose.yml runs a worker pool per queue group; a worker
# started without -Q (tests, a laptop) consumes every queue listed here.
CELERY_TASK_QUEUES = [
    Queue(name) for name in ("default", "payments", "notices", "reports", "cutoff")
]
CELERY_TASK_DEFAULT_QUEUE = "default"
# Exact names first, then the glob patterns in order (Celery's MapRoute);
# a task not listed runs on "default". tests/test_celery_routes.py lists
# every task and its queue.
CELERY_TASK_ROUTES = {
    # Money in and out: payment deadlines, lost payments, refunds, payouts.
    "orders.tasks.expire_order_task": {"queue": "payments"},
    "orders.tasks.expire_unpaid_orders_task": {"queue": "payments"},
    "orders.tasks.find_lost_payments_task": {"queue": "payments"},
    "orders.tasks.poll_processing_refunds_task": {"queue": "payments"},
    "orders.tasks.send_refund_task": {"queue": "payments"},
    "groupbuy.tasks.refund_group_member_task": {"queue": "payments"},
    "groupbuy.tasks.refund_deal_order_task": {"queue": "payments"},
    "leaders.commission.tasks.send_payout_batch_task": {"queue": "payments"},
    "leaders.commission.tasks.check_payout_batch_task": {"queue": "payments"},
    "leaders.commission.tasks.check_submitted_payout_batches_task": {"queue": "payments"},
    # SMS and WeChat messages: many, slow (a gateway each), never urgent.
    "orders.tasks.send_notice_task": {"queue": "notices"},
    "leaders.tasks.tell_applicant_task": {"queue": "notices"},
    "leaders.tasks.tell_shoppers_of_pause_task": {"queue": "notices"},
    "logistics.tasks.tell_leader_of_handover_task": {"queue": "notices"},
    # The day's turn: dispatch at cutoff, deals settled, stock rolled forward.
    "orders.tasks.dispatch_orders_task": {"queue": "cutoff"},
    "groupbuy.tasks.settle_deal_task": {"queue": "cutoff"},
    "catalog.tasks.roll_stock_forward_task": {"queue": "cutoff"},
    "groupbuy.tasks.hold_campaign_stock_task": {"queue": "cutoff"},
    # The nightly wave, purchasing, runs and uncollected goods.
    "logistics.tasks.*": {"queue": "cutoff"},
    # Nightly settlement, statements (PDF), reconciliation: heavy, low concurrency.
    "leaders.commission.tasks.*": {"queue": "reports"},
    # Analytics: the nightly facts, report jobs and exports, the daily summary.
    "analytics.tasks.*": {"queue": "reports"},
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Each app lists its periodic work in <app>/schedules.py (BEAT_SCHEDULE, plain
# data, no Django imports); the tasks themselves are idempotent.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "accounts-heartbeat": {
        "task": "tuangou.accounts.tasks.heartbeat_task",
        "schedule": timedelta(minutes=1),
    },
}
for _app in LOCAL_APPS:
    try:
        _schedules = importlib.import_module(f"{_app}.schedules")
    except ModuleNotFoundError as exc:
        if exc.name != f"{_app}.schedules":
            raise
        continue
    CELERY_BEAT_SCHEDULE.update(_schedules.BEAT_SCHEDULE)

# --- auth -------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses password logins of a locked-out account or IP.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"

# Password logins (staff pages and the admin) lock after AXES_FAILURE_LIMIT
# failures per IP and, separately, per account, for AXES_COOLOFF_MINUTES
# (django-axes, tuangou/accounts/lockout.py); allauth's login_failed rate
# limit slows the attempts before that.
AXES_FAILURE_LIMIT = _read("AXES_FAILURE_LIMIT", env.int, 5)
AXES_COOLOFF_TIME = timedelta(minutes=_read("AXES_COOLOFF_MINUTES", env.int, 15))
if AXES_FAILURE_LIMIT < 1 or AXES_COOLOFF_TIME.total_seconds() < 60:
    _fail("AXES_FAILURE_LIMIT must be at least 1 and AXES_COOLOFF_MINUTES at least 1")
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_USERNAME_CALLABLE = "tuangou.accounts.lockout.account_key"
AXES_CLIENT_IP_CALLABLE = "tuangou.accounts.lockout.client_ip"
AXES_LOCKOUT_CALLABLE = "tuangou.accounts.lockout.locked_out"
# Failures expire with the cool-off, never by a success: a success from the
# same IP (the attacker's own account) would otherwise wipe the IP's rows,
# the victim's among them.
AXES_RESET_ON_SUCCESS = False
# The lock lasts the cool-off from the last counted failure; tries while
# locked are refused without being counted (they do not extend it).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_DISABLE_ACCESS_LOG = True  # failures only: no row per successful sign-in
AXES_VERBOSE = False
# Behind our nginx (deploy/nginx.conf appends the client to X-Forwarded-For):
# the number of proxies of ours in front of Django. 0 (direct): the address is
# REMOTE_ADDR and X-Forwarded-For is ignored, as anyone can send it. Used by
# the lockout and allauth's per-IP rate limits alike.
TRUSTED_PROXY_COUNT = _read("TRUSTED_PROXY_COUNT", env.int, 0)
if TRUSTED_PROXY_COUNT < 0:
    _fail("TRUSTED_PROXY_COUNT must be 0 or more")
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

ACCOUNT_ADAPTER = "tuangou.accounts.adapter.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "tuangou.accounts.adapter.SocialAccountAdapter"
# Shoppers sign in by phone + SMS code; staff by phone or email + password.
ACCOUNT_LOGIN_METHODS = {"phone", "email"}
ACCOUNT_SIGNUP_FIELDS = ["phone*", "email"]
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
# A new code once a minute (the rate limits below), each valid 5 minutes.
ACCOUNT_LOGIN_BY_CODE_SUPPORTS_RESEND = 5
ACCOUNT_LOGIN_BY_CODE_TIMEOUT = 5 * 60
ACCOUNT_FORMS = {
    "login": "tuangou.accounts.forms.StaffPasswordLoginForm",
    "request_login_code": "tuangou.accounts.forms.SmsCodeRequestForm",
    "confirm_login_code": "tuangou.accounts.forms.SmsLoginCodeForm",
    "verify_phone": "tuangou.accounts.forms.SmsVerifyPhoneForm",
}
ACCOUNT_PHONE_VERIFICATION_ENABLED = True
ACCOUNT_PHONE_VERIFICATION_SUPPORTS_RESEND = True
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_USER_MODEL_USERNAME_FIELD = "username"
# Usernames are internal ids: people are named by nickname or masked phone.
ACCOUNT_USER_DISPLAY = "tuangou.accounts.models.public_name"
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_LOGOUT_ON_GET = False
ALLAUTH_USER_CODE_FORMAT = {"numeric": True, "dashed": False, "length": 6}
# SMS codes are the expensive, abusable part: per phone (key) and per IP.
ACCOUNT_RATE_LIMITS = {
    "request_login_code": "20/h/ip,1/m/key,10/h/key",
    "verify_phone": "1/m/key,10/h/ip",
    # Entering an SMS code (sign_in.py): every attempt for one phone counts,
    # across sessions and codes (allauth also ends a code after 3 wrong tries).
    "verify_login_code": "10/h/key",
}
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_STORE_TOKENS = False

WECHAT_APP_ID = env.str("WECHAT_APP_ID", default="")
WECHAT_APP_SECRET = env.str("WECHAT_APP_SECRET", default="")
# Inside WeChat's browser the OAuth page differs from the website QR login.
WECHAT_IN_APP = _read("WECHAT_IN_APP", env.bool, False)
SOCIALACCOUNT_PROVIDERS: dict[str, dict] = {}
if WECHAT_APP_ID and WECHAT_APP_SECRET:
    SOCIALACCOUNT_PROVIDERS["weixin"] = {
        "APPS": [{"client_id": WECHAT_APP_ID, "secret": WECHAT_APP_SECRET, "key": ""}],
        "SCOPE": ["snsapi_userinfo"] if WECHAT_IN_APP else ["snsapi_login"],
    }
    if WECHAT_IN_APP:
        SOCIALACCOUNT_PROVIDERS["weixin"]["AUTHORIZE_URL"] = (
            "https://open.weixin.qq.com/connect/oauth2/authorize"
        )
elif WECHAT_APP_ID or WECHAT_APP_SECRET:
    _fail("WECHAT_APP_ID and WECHAT_APP_SECRET must be set together")
# The demo's WeChat: a 模拟微信授权 page and an in-process stand-in for WeChat's
# API (tuangou/accounts/weixin/sandbox.py) drive the real allauth callback and
# phone binding. On by default in development without a real AppID; with DEBUG
# off only when set on purpose: anyone may then be any simulated WeChat user,
# the seeded demo personas included.
WECHAT_LOGIN_SANDBOX = _read("WECHAT_LOGIN_SANDBOX", env.bool, DEBUG and not WECHAT_APP_ID)
if WECHAT_LOGIN_SANDBOX and WECHAT_APP_ID:
    _fail("WECHAT_LOGIN_SANDBOX=true and WECHAT_APP_ID exclude each other: pick one")
if WECHAT_LOGIN_SANDBOX:
    SOCIALACCOUNT_PROVIDERS["weixin"] = {
        "APPS": [{"client_id": "wxsandbox0000demo", "secret": "sandbox-secret", "key": ""}],
        "SCOPE": ["snsapi_userinfo"],
        "SANDBOX": True,
    }

# WeChat Pay v3 (merchant). Empty values keep the sandbox provider.
PAYMENT_PROVIDER = _read("PAYMENT_PROVIDER", env.str, "sandbox")
if PAYMENT_PROVIDER not in {"sandbox", "wechatpay"}:
    _fail("PAYMENT_PROVIDER must be 'sandbox' or 'wechatpay'")
WECHATPAY_MCH_ID = env.str("WECHATPAY_MCH_ID", default="")
WECHATPAY_APP_ID = env.str("WECHATPAY_APP_ID", default=WECHAT_APP_ID)
WECHATPAY_API_V3_KEY = env.str("WECHATPAY_API_V3_KEY", default="")
WECHATPAY_CERT_SERIAL = env.str("WECHATPAY_CERT_SERIAL", default="")
WECHATPAY_PRIVATE_KEY_PATH = env.str("WECHATPAY_PRIVATE_KEY_PATH", default="")
WECHATPAY_PLATFORM_CERT_PATH = env.str("WECHATPAY_PLATFORM_CERT_PATH", default="")
# Set when WeChat Pay gave a bare platform public key (PUB_KEY_ID_...) instead of a certificate.
WECHATPAY_PLATFORM_SERIAL = env.str("WECHATPAY_PLATFORM_SERIAL", default="")
WECHATPAY_BASE_URL = env.str("WECHATPAY_BASE_URL", default="https://api.mch.weixin.qq.com")
# The sandbox provider's signing key lives here (created on first use).
SANDBOX_PAY_DIR = Path(env.str("SANDBOX_PAY_DIR", default=str(BASE_DIR / "var" / "sandbox_pay")))
if PAYMENT_PROVIDER == "wechatpay" and not (
    WECHATPAY_MCH_ID and WECHATPAY_API_V3_KEY and WECHATPAY_PRIVATE_KEY_PATH
):
    _fail("PAYMENT_PROVIDER=wechatpay needs WECHATPAY_MCH_ID, _API_V3_KEY, _PRIVATE_KEY_PATH")

# WeChat template messages: {notice kind: template id or {"template_id", "fields"}}.
WECHAT_TEMPLATE_IDS = _read("WECHAT_TEMPLATE_IDS", env.json, {})
if not isinstance(WECHAT_TEMPLATE_IDS, dict):
    _fail("WECHAT_TEMPLATE_IDS must be a JSON object of notice kind to template id")
WECHAT_MESSAGE_PROVIDER = _read(
    "WECHAT_MESSAGE_PROVIDER", env.str, "orders.messaging.LogWechatMessageProvider"
)

SMS_PROVIDER = _read("SMS_PROVIDER", env.str, "tuangou.accounts.sms.LogSmsProvider")
# The log provider writes sign-in codes to the log: fine on a laptop, a hole
# in production unless someone says so on purpose (a closed trial).
if (
    not DEBUG
    and not TESTING
    and not CODE_ONLY_COMMAND
    and SMS_PROVIDER.endswith("LogSmsProvider")
    and not _read("SMS_LOG_IN_PRODUCTION", env.bool, False)
):
    _fail("SMS_PROVIDER writes codes to the log; set a real provider or SMS_LOG_IN_PRODUCTION=true")
SMS_SIGN_NAME = env.str("SMS_SIGN_NAME", default="团购")

# Email reaches staff only (password resets); shoppers sign in by phone. Like
# SMS: development prints mail to the console, production names a server
# (EMAIL_URL=smtp+tls://user:password@smtp.example.cn:587) or says on purpose
# that reset links may go to the log.
_email_url = env.str("EMAIL_URL", default="") or "consolemail://"
try:
    _email = environ.Env.email_url_config(_email_url)
except ImproperlyConfigured as exc:
    _fail(f"EMAIL_URL is invalid: {exc}")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
if EMAIL_BACKEND.endswith("smtp.EmailBackend"):
    if not _email.get("EMAIL_HOST"):
        _fail("EMAIL_URL needs a host, e.g. smtp+tls://user:password@smtp.example.cn:587")
    EMAIL_HOST = _email["EMAIL_HOST"]
    EMAIL_PORT = _email.get("EMAIL_PORT") or 25
    EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER") or ""
    EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD") or ""
    EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS"))
    EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL"))
    EMAIL_TIMEOUT = 10
elif EMAIL_BACKEND.endswith("filebased.EmailBackend"):
    EMAIL_FILE_PATH = _email["EMAIL_FILE_PATH"]
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="noreply@localhost")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
if (
    not DEBUG
    and not TESTING
    and not CODE_ONLY_COMMAND
    and EMAIL_BACKEND.endswith("console.EmailBackend")
    and not _read("EMAIL_LOG_IN_PRODUCTION", env.bool, False)
):
    _fail("EMAIL_URL is not set (mail would go to the log); set it or EMAIL_LOG_IN_PRODUCTION=true")

# --- i18n / time ------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["tuangou.formats"]
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True

# --- static & media ---------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "var" / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media")))
# Private files (statements, claim photos, exports) live apart from public
# media, behind views that check the reader (tuangou/private_files.py). In
# production the view answers with X-Accel-Redirect to this nginx location
# (internal; see deploy/nginx.conf); empty: Django streams the file itself.
PRIVATE_MEDIA_ROOT = Path(
    env.str("PRIVATE_MEDIA_ROOT", default=str(BASE_DIR / "var" / "private"))
).resolve()
for _public_name, _public_root in (("MEDIA_ROOT", MEDIA_ROOT), ("STATIC_ROOT", STATIC_ROOT)):
    _public_root = _public_root.resolve()
    if PRIVATE_MEDIA_ROOT.is_relative_to(_public_root) or _public_root.is_relative_to(
        PRIVATE_MEDIA_ROOT
    ):
        _fail(f"PRIVATE_MEDIA_ROOT must lie outside {_public_name}: private files are never public")
PRIVATE_MEDIA_ACCEL_PREFIX = env.str("PRIVATE_MEDIA_ACCEL_PREFIX", default="")
if PRIVATE_MEDIA_ACCEL_PREFIX and not (
    PRIVATE_MEDIA_ACCEL_PREFIX.startswith("/")
    and PRIVATE_MEDIA_ACCEL_PREFIX.endswith("/")
    and not PRIVATE_MEDIA_ACCEL_PREFIX.startswith((MEDIA_URL, STATIC_URL))
):
    _fail("PRIVATE_MEDIA_ACCEL_PREFIX must be an internal nginx path like /_private/")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "private": {"BACKEND": "tuangou.private_files.PrivateFileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- security ---------------------------------------------------------------
# Content-Security-Policy (django-csp): scripts only from our own static files,
# never inline (no onclick=, no javascript: links: static/js does that), no
# eval; styles may stay inline. No page loads anything from another origin.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if not DEBUG and not TESTING:
    SECURE_SSL_REDIRECT = _read("SECURE_SSL_REDIRECT", env.bool, True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = _read("SECURE_HSTS_SECONDS", env.int, 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Flash messages ride in a signed cookie (the session only when too big) and
# sessions are read from Redis (written through to PostgreSQL): a signed-in
# request reads no session row and a message writes none (issue #11).
MESSAGE_STORAGE = "django.contrib.messages.storage.fallback.FallbackStorage"
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- business rules ---------------------------------------------------------
# Minutes an unpaid order holds its stock before it is cancelled.
ORDER_PAYMENT_TIMEOUT_MINUTES = _read("ORDER_PAYMENT_TIMEOUT_MINUTES", env.int, 15)
# Unpaid orders are cancelled by the sweeper (orders-expire-unpaid, every
# minute, over the status+deadline index). True also publishes one Celery ETA
# task per order at its deadline: to the second, but every order then costs a
# broker publish on the hot path and a task held in a worker's memory (issue #11).
ORDER_EXPIRY_ETA_TASKS = _read("ORDER_EXPIRY_ETA_TASKS", env.bool, False)
# The admission gate in front of a hot SKU's stock row (catalog/gate.py): at
# most this many order transactions per SKU and warehouse wait on the row at
# once (0: no gate); the others wait outside the database for up to
# ORDER_GATE_WAIT_MS, then get 429 "人太多了，请稍后再试". Redis down: no gate.
# 8: pgbench's hot row peaks at 8 clients on this box (docs/benchmarks.md).
# Tests wait for their turn (outcomes stay exact under any load); the
# refusals are tested with a short wait (tests/catalog/test_gate.py).
ORDER_GATE_PER_SKU = _read("ORDER_GATE_PER_SKU", env.int, 8)
ORDER_GATE_WAIT_MS = _read("ORDER_GATE_WAIT_MS", env.int, 30_000 if TESTING else 1000)
if ORDER_GATE_PER_SKU < 0 or ORDER_GATE_WAIT_MS < 0:
    _fail("ORDER_GATE_PER_SKU and ORDER_GATE_WAIT_MS must be 0 or more")
# An order still at the pickup point this many days after delivery, at HH:MM
# Shanghai, is flagged uncollected (checked by orders.apps at start-up).
ORDER_UNCOLLECTED_AFTER_DAYS = _read("ORDER_UNCOLLECTED_AFTER_DAYS", env.int, 2)
ORDER_UNCOLLECTED_AT = _read("ORDER_UNCOLLECTED_AT", env.str, "21:00")
# Days after pickup during which a shopper may open an after-sale claim.
AFTER_SALE_WINDOW_DAYS = _read("AFTER_SALE_WINDOW_DAYS", env.int, 2)
# The platform's customer-service number, shown on 我的 and the help page as a
# tel: link (hidden when empty). The demo's is a placeholder.
SERVICE_PHONE = env.str("SERVICE_PHONE", default="400-000-0000" if DEBUG else "")
# Apps above orders (groupbuy) react to an order's payment and cancellation
# through these dotted paths, called inside the order's transaction.
ORDER_PAID_HOOKS: list[str] = ["groupbuy.services.on_order_paid"]
ORDER_CANCELLED_HOOKS: list[str] = ["groupbuy.services.on_order_cancelled"]

# Marketing (marketing/README.md): points earned per yuan an order keeps, the
# largest share of an order points may pay (100 points = ¥1), and the least an
# order must keep after completion to earn a 满额返券 spend-reward coupon.
MARKETING_POINTS_PER_YUAN = _read("MARKETING_POINTS_PER_YUAN", env.int, 1)
MARKETING_POINTS_MAX_SHARE = _read("MARKETING_POINTS_MAX_SHARE", env.str, "0.5")
MARKETING_SPEND_REWARD_MIN = _read("MARKETING_SPEND_REWARD_MIN", env.str, "39.00")
try:
    if not 0 <= Decimal(MARKETING_POINTS_MAX_SHARE) <= 1 or Decimal(MARKETING_SPEND_REWARD_MIN) < 0:
        raise InvalidOperation
except InvalidOperation:
    _fail("MARKETING_POINTS_MAX_SHARE must be 0..1 and MARKETING_SPEND_REWARD_MIN an amount")
REFUND_MAX_RETRIES = 8

# Leader commission: settlement periods, withdrawals, payouts, statements.
COMMISSION_PERIOD = _read("COMMISSION_PERIOD", env.str, "monthly")
if COMMISSION_PERIOD not in {"monthly", "weekly"}:
    _fail("COMMISSION_PERIOD must be 'monthly' or 'weekly'")
WITHDRAWAL_MIN_AMOUNT = _read("WITHDRAWAL_MIN_AMOUNT", env.str, "10.00")
try:
    if Decimal(WITHDRAWAL_MIN_AMOUNT) <= 0:
        raise InvalidOperation
except InvalidOperation:
    _fail("WITHDRAWAL_MIN_AMOUNT must be a positive amount in yuan, e.g. 10.00")
PAYOUT_PROVIDER = _read("PAYOUT_PROVIDER", env.str, "bank_csv")
if PAYOUT_PROVIDER not in {"bank_csv", "wechat"}:
    _fail("PAYOUT_PROVIDER must be 'bank_csv' or 'wechat'")

# Analytics report jobs: hours a finished export is kept for download (then
# deleted by the analytics-expire-report-jobs beat task), and rows per chunk
# (progress is saved and a cancel is seen between two chunks).
ANALYTICS_JOB_RETENTION_HOURS = _read("ANALYTICS_JOB_RETENTION_HOURS", env.int, 72)
ANALYTICS_EXPORT_CHUNK = _read("ANALYTICS_EXPORT_CHUNK", env.int, 2000)
if ANALYTICS_JOB_RETENTION_HOURS < 1 or ANALYTICS_EXPORT_CHUNK < 1:
    _fail("ANALYTICS_JOB_RETENTION_HOURS and ANALYTICS_EXPORT_CHUNK must be at least 1")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # WeasyPrint's font subsetting logs a line per glyph table at INFO.
        "fontTools": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # a line per sign-in otherwise
        "weasyprint": {"level": "WARNING"},
    },
}

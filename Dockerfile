FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y --no-install-recommends \
      libharfbuzz-subset0 libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk gettext \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
RUN pip install --no-cache-dir -e .
COPY . .
# Build-time values only: the real ones come from the environment at run time.
# collectstatic runs with DEBUG off, so the hashed manifest production reads exists.
RUN DEBUG=true python manage.py compilemessages --ignore '.venv/*' --ignore 'var/*' \
    && SECRET_KEY=build-only-not-a-secret-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n') \
       SITE_URL=http://build.invalid SMS_LOG_IN_PRODUCTION=true EMAIL_LOG_IN_PRODUCTION=true STATIC_ROOT=/app/var/static \
       python manage.py collectstatic --noinput
EXPOSE 8000
# Worker class and counts: deploy/gunicorn.conf.py (GUNICORN_* variables).
CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "tuangou.wsgi:application"]

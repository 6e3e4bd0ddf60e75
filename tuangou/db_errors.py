"""A lost database connection answers 503 with a clear page (issue #15).

When PostgreSQL drops a request's connection (a restart, a failover,
pg_terminate_backend, a network cut), the statement in flight raises
OperationalError or InterfaceError and the transaction is rolled back by
PostgreSQL: nothing of the request was written. The shopper is told so,
with 503 and Retry-After (a payment provider retries its notification on
any non-2xx), instead of the generic 500; the broken connection is closed
at once so the next request of this worker opens a fresh one. The page is
rendered without the database (errors/standalone.html).
"""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError, connections
from django.template.loader import render_to_string

logger = logging.getLogger("tuangou.db")

RETRY_AFTER_SECONDS = 5


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.error(
            "database unavailable during %s %s: %s", request.method, request.path, exception
        )
        for conn in connections.all(initialized_only=True):
            if conn.connection is not None and not conn.is_usable():
                conn.close()
        from django.http import HttpResponse

        response = HttpResponse(render_to_string("503.html"), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

"""The cache when Redis is down (issue #15): degrade, say so in one line.

settings.CACHES sets django-redis's IGNORE_EXCEPTIONS: a read misses, a
write is dropped, `add` answers "not taken". django-redis would log each
ignored error with its whole traceback (or nothing); this backend writes
one warning line instead, at most every few seconds per process, so an
outage shows in the log without flooding it.
"""

from __future__ import annotations

import logging
import sys
import time

from django_redis.cache import RedisCache as DjangoRedisCache

log = logging.getLogger("tuangou.cache")

EVERY_SECONDS = 5.0
_last = [0.0]


class OneLineLogger:
    def exception(self, msg, *args, **kwargs) -> None:
        now = time.monotonic()
        if now - _last[0] < EVERY_SECONDS:
            return
        _last[0] = now
        log.warning("Redis unavailable, the cache degrades: %s", sys.exc_info()[1])


class RedisCache(DjangoRedisCache):
    """django-redis's cache, logging the errors it ignores in one line."""

    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._log_ignored_exceptions = True
        self.logger = OneLineLogger()

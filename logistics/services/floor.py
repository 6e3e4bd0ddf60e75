"""The warehouse floor: ticking picking lines as picked and packing lines as packed.

Each tick is one conditional UPDATE (no read-modify-write): it applies only
while the wave is done and only within the line's own quantity; the row
count says whether it applied, and a refusal is a message for the picker.

A tick and a rerun of the wave never overlap: the tick holds the wave's
advisory lock in shared mode for its few milliseconds, the rebuild holds it
exclusively (logistics/services/wave.py). Without that, a tick committed
after the rebuild's REPEATABLE READ snapshot made the rebuild's DELETE fail
("could not serialize access") and the wave FAILED. Now the tick is refused
while a rebuild runs, and a rebuild that starts during a tick is WaveBusy.
"""

from __future__ import annotations

import functools

from django.db import connection, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from ..models import PackItem, PickItem, Wave, WaveStatus
from .wave import _LOCK_NAMESPACE as WAVE_LOCK_NAMESPACE


class FloorError(Exception):
    """A tick that cannot be applied: the message is for the warehouse staff."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _rebuilding() -> FloorError:
    return FloorError(_("The wave is being rebuilt: reload the page when it is done."))


def _beside_the_rebuild(tick):
    """Run a tick in a transaction that shares the wave's lock (refused during a rebuild)."""

    @functools.wraps(tick)
    def wrapper(*, wave: Wave, **kwargs):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_try_advisory_xact_lock_shared(%s, %s)",
                    [WAVE_LOCK_NAMESPACE, wave.pk],
                )
                if not cursor.fetchone()[0]:
                    raise _rebuilding()
            return tick(wave=wave, **kwargs)

    return wrapper


def _refusal(wave: Wave) -> FloorError:
    wave.refresh_from_db(fields=["status"])
    if wave.status != WaveStatus.DONE:
        return _rebuilding()
    return FloorError(_("This line is not in the wave."))


@_beside_the_rebuild
def mark_picked(*, wave: Wave, item_id: int, quantity: int | None = None) -> int:
    """Tick a picking line: `quantity` picked (the whole line when None). Returns it.

    A picker who found fewer on the shelf records the smaller number; more
    than the line asks for, or a negative number, is refused.
    """
    if quantity is not None and quantity < 0:
        raise FloorError(_("The quantity cannot be negative."))
    rows = PickItem.objects.filter(pk=item_id, wave_id=wave.pk, wave__status=WaveStatus.DONE)
    if quantity is None:
        updated = rows.update(picked_quantity=F("quantity"))
    else:
        updated = rows.filter(quantity__gte=quantity).update(picked_quantity=quantity)
        if not updated and rows.exists():
            raise FloorError(_("More than the picking list asks for."))
    if not updated:
        raise _refusal(wave)
    return PickItem.objects.values_list("picked_quantity", flat=True).get(pk=item_id)


@_beside_the_rebuild
def unmark_picked(*, wave: Wave, item_id: int) -> None:
    """Take a tick back (picked by mistake)."""
    updated = PickItem.objects.filter(
        pk=item_id, wave_id=wave.pk, wave__status=WaveStatus.DONE
    ).update(picked_quantity=None)
    if not updated:
        raise _refusal(wave)


@_beside_the_rebuild
def set_packed(*, wave: Wave, item_id: int, is_packed: bool = True) -> None:
    """Tick (or untick) one packing line."""
    updated = PackItem.objects.filter(
        pk=item_id, wave_id=wave.pk, wave__status=WaveStatus.DONE
    ).update(is_packed=is_packed)
    if not updated:
        raise _refusal(wave)


@_beside_the_rebuild
def pack_point(*, wave: Wave, point_id: int) -> int:
    """Tick every packing line of one pickup point (its crates are closed). Returns
    how many lines this call ticked (0 when they all were already)."""
    if not PackItem.objects.filter(
        wave_id=wave.pk, pickup_point_id=point_id, wave__status=WaveStatus.DONE
    ).exists():
        raise _refusal(wave)
    # One table only: a join here would make the UPDATE a `pk IN (subquery)`,
    # which PostgreSQL does not re-check after waiting for a second packer's row
    # locks, and both would count the lines. The shared wave lock (held since
    # the check above) keeps a rebuild out.
    return PackItem.objects.filter(
        wave_id=wave.pk, pickup_point_id=point_id, is_packed=False
    ).update(is_packed=True)

"""SMS to applicants after review and to shoppers when their point pauses a day: once."""

from __future__ import annotations

import logging
from datetime import date, time
from unittest import mock

import pytest
import time_machine

from leaders import services, tasks
from tuangou import timeutils

from .factories import LeaderApplicationFactory, UserFactory, bind

pytestmark = pytest.mark.django_db

NOW = timeutils.local_datetime(date(2026, 11, 20), time(9, 0))


def _sms(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "tuangou.sms"]


def test_the_review_schedules_a_message_after_commit(
    operator, community, django_capture_on_commit_callbacks
):
    application = LeaderApplicationFactory(community=community)
    with (
        mock.patch.object(tasks.tell_applicant_task, "apply_async") as publish,
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.approve_application(application=application, reviewed_by=operator)
    # Published through the outbox (tuangou/outbox) once the review commits.
    publish.assert_called_once()
    assert publish.call_args.kwargs["args"] == [application.pk]


def test_the_applicant_is_told_once(
    operator, community, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    application = LeaderApplicationFactory(community=community, phone="+8613800000031")
    with mock.patch.object(tasks.tell_applicant_task, "delay"):
        services.reject_application(
            application=application, reviewed_by=operator, reason="照片模糊"
        )
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.tell_applicant_task(application.pk) is True
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.tell_applicant_task(application.pk) is False
    assert _sms(caplog) == [
        "SMS to +8613800000031 [leader_application_rejected] name=王丽 reason=照片模糊"
    ]


def test_a_pending_application_is_not_told_anything(community, caplog):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    application = LeaderApplicationFactory(community=community)
    assert services.tell_applicant(application_id=application.pk) is False
    assert _sms(caplog) == []


def test_bound_shoppers_are_told_of_a_paused_day_once(
    pickup_point, other_pickup_point, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    bind(user=UserFactory(username="a", phone="+8613800000041"), point=pickup_point)
    bind(user=UserFactory(username="b", phone="+8613800000042"), point=pickup_point)
    bind(user=UserFactory(username="c", phone="+8613800000043"), point=other_pickup_point)
    with (
        time_machine.travel(NOW, tick=False),
        mock.patch.object(tasks.tell_shoppers_of_pause_task, "apply_async") as publish,
        django_capture_on_commit_callbacks(execute=True),
    ):
        pause = services.pause_pickup_point_for_day(point=pickup_point, day=date(2026, 11, 21))
        # Pausing the same day again schedules nothing new.
        services.pause_pickup_point_for_day(point=pickup_point, day=date(2026, 11, 21))
    publish.assert_called_once()
    assert publish.call_args.kwargs["args"] == [pause.pk]

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.tell_shoppers_of_pause_task(pause.pk) == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.tell_shoppers_of_pause_task(pause.pk) == 0
    assert _sms(caplog) == [
        "SMS to +8613800000041 [pickup_point_paused] day=11-21 point=幸福里便利店",
        "SMS to +8613800000042 [pickup_point_paused] day=11-21 point=幸福里便利店",
    ]

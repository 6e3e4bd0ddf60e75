# ruff: noqa: F811 - pytest fixtures imported from tests.orders.conftest
"""Commission statements are private files: stored outside MEDIA_ROOT under
random names, served only to their leader and to staff who may view
settlements (issue #10, "Private files are private")."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Permission
from django.urls import reverse

from leaders.commission.models import Settlement
from leaders.commission.services import generate_statement
from tests.orders.conftest import (  # noqa: F401 - fixtures
    clock,
    community,
    egg_sku,
    leader,
    other_community,
    other_leader,
    other_pickup_point,
    pickup_point,
    point,
    sku,
)
from tuangou.private_files import (
    PrivateFileHasNoURL,
    move_public_files_to_private,
    private_storage,
)

from .money import november, their_november  # noqa: F401 - fixtures
from .test_statements import pdf_text

pytestmark = pytest.mark.django_db

PRIVATE_NAME = re.compile(r"statements/\d{4}/\d{2}/[0-9a-f]{32}\.pdf")


@pytest.fixture
def statements(november, their_november):
    """Lily's closed November with its PDF, and Ming's closed November with his."""
    theirs = generate_statement(settlement_id=their_november.pk)
    november.refresh_from_db()
    return november, theirs


def _old_public_path(settlement) -> str:
    """Where statements used to be, readable by anyone."""
    return (
        f"statements/{settlement.period_start:%Y/%m}/"
        f"statement-{settlement.leader_id}-{settlement.period_start:%Y%m%d}.pdf"
    )


def _body(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def _files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# --- storage ------------------------------------------------------------------------------


def test_a_statement_is_stored_outside_media_under_a_random_name(statements, settings):
    mine, theirs = statements

    for settlement in (mine, theirs):
        name = settlement.statement.name
        assert PRIVATE_NAME.fullmatch(name), name
        # Nothing derived from the leader or the period: the file part is all random.
        assert f"statement-{settlement.leader_id}" not in name
        assert f"{settlement.period_start:%Y%m%d}" not in name
        assert (Path(settings.PRIVATE_MEDIA_ROOT) / name).read_bytes().startswith(b"%PDF")
    assert mine.statement.name != theirs.statement.name
    assert _files_under(Path(settings.MEDIA_ROOT)) == []
    with pytest.raises(PrivateFileHasNoURL):
        mine.statement.url  # noqa: B018 - the property is the thing tested


def test_making_a_statement_again_gives_a_new_name_and_removes_the_old_file(statements, settings):
    mine, _theirs = statements
    old = Path(settings.PRIVATE_MEDIA_ROOT) / mine.statement.name

    again = generate_statement(settlement_id=mine.pk)

    assert PRIVATE_NAME.fullmatch(again.statement.name)
    assert again.statement.name != mine.statement.name
    assert not old.exists()
    assert _files_under(Path(settings.PRIVATE_MEDIA_ROOT) / "statements") == sorted(
        Path(settings.PRIVATE_MEDIA_ROOT) / s.statement.name
        for s in Settlement.objects.exclude(statement="")
    )


# --- nobody else gets it ------------------------------------------------------------------


def test_media_urls_of_a_statement_give_no_content_to_anyone(
    client, statements, settings, other_leader_user, leader_user
):
    """Neither the old guessable path (even with a leftover copy there) nor the
    private name answers under /media/: anonymously, as another leader, or as
    the statement's own leader."""
    mine, _theirs = statements
    leftover = Path(settings.MEDIA_ROOT) / _old_public_path(mine)
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(mine.statement.read())
    urls = [
        f"/media/{_old_public_path(mine)}",
        "/media/statements/2026/11/statement-1-20261001.pdf",
        f"/media/{mine.statement.name}",
        f"/media/../private/{mine.statement.name}",
    ]

    for user in (None, other_leader_user, leader_user):
        client.logout()
        if user is not None:
            client.force_login(user)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 404, (user, url)
            assert b"%PDF" not in _body(response), (user, url)


def test_another_leader_anonymous_visitors_and_shoppers_get_no_statement(
    client, statements, other_leader_user, shopper
):
    mine, _theirs = statements
    leader_url = reverse("leaders:money_statement_pdf", args=[mine.code])
    finance_url = reverse("leaders:finance_statement_pdf", args=[mine.code])
    admin_url = reverse("admin:leaders_settlement_statement_pdf", args=[mine.pk])

    anonymous = [client.get(url) for url in (leader_url, finance_url, admin_url)]
    assert [r.status_code for r in anonymous] == [302, 302, 302]
    assert all("login" in r["Location"] for r in anonymous)

    client.force_login(other_leader_user)
    assert client.get(leader_url).status_code == 404
    assert client.get(finance_url).status_code == 403
    assert client.get(admin_url).status_code == 302  # not staff: the admin's sign-in

    client.force_login(shopper)
    assert client.get(leader_url).status_code == 302  # not a leader: the application page
    assert client.get(finance_url).status_code == 403

    for response in anonymous:
        assert b"%PDF" not in _body(response)


def test_staff_without_the_settlement_permission_get_no_statement(client, statements, make_user):
    mine, _theirs = statements
    clerk = make_user("clerk", "+8613900000555", "仓库小张", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(clerk)

    response = client.get(reverse("admin:leaders_settlement_statement_pdf", args=[mine.pk]))

    assert response.status_code == 403
    assert b"%PDF" not in _body(response)


# --- the right people get the PDF ---------------------------------------------------------


def test_the_leader_gets_their_own_statement_as_a_real_pdf(client, statements, leader_user):
    mine, _theirs = statements
    client.force_login(leader_user)

    response = client.get(reverse("leaders:money_statement_pdf", args=[mine.code]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Cache-Control"] == "private, no-store"
    assert (
        response["Content-Disposition"]
        == f'attachment; filename="statement-20261101-{mine.leader_id}.pdf"'
    )
    text = pdf_text(_body(response))
    assert "王丽" in text and mine.verification_code in text


@pytest.mark.parametrize("who", ["finance", "operator"])
def test_finance_and_operators_get_it_from_the_admin(client, statements, who, request):
    mine, _theirs = statements
    client.force_login(request.getfixturevalue(who))

    change = client.get(reverse("admin:leaders_settlement_change", args=[mine.pk]))
    html = change.content.decode()
    admin_url = reverse("admin:leaders_settlement_statement_pdf", args=[mine.pk])
    response = client.get(admin_url)

    assert change.status_code == 200
    assert f'href="{admin_url}"' in html
    assert mine.statement.name not in html
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert mine.verification_code in pdf_text(_body(response))


def test_finance_gets_it_from_the_finance_pages(client, statements, finance):
    _mine, theirs = statements
    client.force_login(finance)

    response = client.get(reverse("leaders:finance_statement_pdf", args=[theirs.code]))

    assert response.status_code == 200
    text = pdf_text(_body(response))
    assert "周明" in text and theirs.verification_code in text


def test_a_statement_whose_file_was_lost_is_made_again_when_opened(
    client, statements, leader_user, settings
):
    mine, _theirs = statements
    (Path(settings.PRIVATE_MEDIA_ROOT) / mine.statement.name).unlink()
    client.force_login(leader_user)

    response = client.get(reverse("leaders:money_statement_pdf", args=[mine.code]))

    assert response.status_code == 200
    assert mine.verification_code in pdf_text(_body(response))
    mine.refresh_from_db()
    assert (Path(settings.PRIVATE_MEDIA_ROOT) / mine.statement.name).exists()


# --- production: nginx sends the bytes ----------------------------------------------------


def test_in_production_the_view_hands_the_file_to_nginx(client, statements, leader_user, settings):
    settings.PRIVATE_MEDIA_ACCEL_PREFIX = "/_private/"
    mine, _theirs = statements
    client.force_login(leader_user)

    response = client.get(reverse("leaders:money_statement_pdf", args=[mine.code]))

    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == f"/_private/{mine.statement.name}"
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert response["Cache-Control"] == "private, no-store"
    assert response.content == b""

    client.force_login(statements[1].leader.user)
    refused = client.get(reverse("leaders:money_statement_pdf", args=[mine.code]))
    assert refused.status_code == 404
    assert not refused.has_header("X-Accel-Redirect")


# --- existing files ----------------------------------------------------------------------


def test_the_migration_moves_public_statements_to_private_storage(statements, settings):
    """What leaders/migrations/0005 does on a site that has statements in
    public media: each moves under a new random name, and the public copy goes."""
    mine, theirs = statements
    pdf = mine.statement.read()
    mine.statement.close()
    public = Path(settings.MEDIA_ROOT) / _old_public_path(mine)
    public.parent.mkdir(parents=True)
    public.write_bytes(pdf)
    private_storage().delete(mine.statement.name)
    Settlement.objects.filter(pk=mine.pk).update(statement=_old_public_path(mine))
    # Ming's row points at a public file that is gone: it keeps its name.
    private_storage().delete(theirs.statement.name)
    Settlement.objects.filter(pk=theirs.pk).update(statement=_old_public_path(theirs))

    migration = importlib.import_module("leaders.migrations.0005_private_statements")
    migration.move_statements(django_apps, None)

    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert PRIVATE_NAME.fullmatch(mine.statement.name)
    assert (Path(settings.PRIVATE_MEDIA_ROOT) / mine.statement.name).read_bytes() == pdf
    assert not public.exists()
    assert _files_under(Path(settings.MEDIA_ROOT)) == []
    assert theirs.statement.name == _old_public_path(theirs)
    # Run again: nothing left to move.
    assert move_public_files_to_private(Settlement, "statement", "statements") == (0, 1)
    mine.refresh_from_db()
    assert (Path(settings.PRIVATE_MEDIA_ROOT) / mine.statement.name).read_bytes() == pdf

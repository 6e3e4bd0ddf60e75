"""Leader applications' storefront photos are private files: stored outside
public media under random names, served only to the applicant and to staff
who review applications (tuangou/private_files.py)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Permission
from django.urls import reverse

from leaders.models import ApplicationStatus, LeaderApplication, PickupPointPhoto
from leaders.services import approve_application
from tuangou.private_files import PrivateFileHasNoURL, private_storage

from .factories import LeaderApplicationFactory, photo_upload
from .test_applications import _form

pytestmark = pytest.mark.django_db

PRIVATE_NAME = re.compile(r"leaders/applications/\d{4}/\d{2}/[0-9a-f]{32}\.(png|jpg)")


def _files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def application(shopper, community):
    return LeaderApplicationFactory(user=shopper, community=community)


def test_an_uploaded_photo_is_stored_outside_media_under_a_random_name(
    client, shopper, community, settings
):
    client.force_login(shopper)
    client.post(reverse("leaders:apply"), _form(community))

    application = LeaderApplication.objects.get(user=shopper)
    assert PRIVATE_NAME.fullmatch(application.storefront_photo.name)
    assert (Path(settings.PRIVATE_MEDIA_ROOT) / application.storefront_photo.name).is_file()
    assert _files_under(Path(settings.MEDIA_ROOT)) == []
    with pytest.raises(PrivateFileHasNoURL):
        application.storefront_photo.url  # noqa: B018 - the property raises


def test_the_applicant_sees_their_photo_on_their_application_page(client, application):
    client.force_login(application.user)
    url = reverse("leaders:application_photo", args=[application.pk])

    page = client.get(reverse("leaders:application")).content.decode()
    assert f'src="{url}"' in page
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, no-store"
    assert _body(response) == application.storefront_photo.read()


def test_anyone_else_gets_a_404_that_says_nothing(
    client, application, other_shopper, leader, finance
):
    url = reverse("leaders:application_photo", args=[application.pk])
    missing = reverse("leaders:application_photo", args=[application.pk + 1000])
    assert client.get(url).status_code == 404  # anonymous
    # Another shopper, a leader, staff without the review permission (finance).
    for user in (other_shopper, leader.user, finance):
        client.force_login(user)
        assert client.get(url).status_code == 404
        assert client.get(missing).status_code == 404


def test_staff_who_review_applications_see_it_in_the_admin(client, application, operator):
    client.force_login(operator)
    url = reverse("leaders:application_photo", args=[application.pk])

    page = client.get(
        reverse("admin:leaders_leaderapplication_change", args=[application.pk])
    ).content.decode()
    assert f'<img src="{url}"' in page
    assert "/media/" not in page.split("<main", 1)[-1]
    response = client.get(url)
    assert response.status_code == 200
    assert _body(response)[:3] == b"\xff\xd8\xff"  # a JPEG


def test_staff_need_the_review_permission_itself(client, application, make_user):
    viewer = make_user("viewer", "+8613900000188", is_staff=True)
    url = reverse("leaders:application_photo", args=[application.pk])
    client.force_login(viewer)
    assert client.get(url).status_code == 404
    viewer.user_permissions.add(Permission.objects.get(codename="change_leaderapplication"))
    client.force_login(viewer)
    assert client.get(url).status_code == 200


def test_media_paths_of_storefront_photos_are_refused_even_for_a_leftover(
    client, application, settings
):
    leftover = Path(settings.MEDIA_ROOT) / "leaders/applications/2026/11/shop.png"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"\x89PNG old public copy")
    client.force_login(application.user)
    for path in (
        "leaders/applications/2026/11/shop.png",
        application.storefront_photo.name,
    ):
        assert client.get(f"/media/{path}").status_code == 404


def test_approving_copies_the_photo_to_the_points_public_pictures(application, operator):
    leader = approve_application(application=application, reviewed_by=operator)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.APPROVED
    [photo] = PickupPointPhoto.objects.filter(point__leader=leader)
    assert photo.image.url.startswith("/media/")  # the point's picture is public on purpose
    assert photo.image.read() == application.storefront_photo.read()


def test_the_migration_moves_public_storefront_photos_to_private_storage(
    application, shopper, other_shopper, community, settings
):
    """What leaders/migrations/0008 does on a site with photos in public media."""
    content = application.storefront_photo.read()
    application.storefront_photo.close()
    old_name = "leaders/applications/2026/10/门店.png"
    public = Path(settings.MEDIA_ROOT) / old_name
    public.parent.mkdir(parents=True)
    public.write_bytes(content)
    private_storage().delete(application.storefront_photo.name)
    LeaderApplication.objects.filter(pk=application.pk).update(storefront_photo=old_name)
    # Another row whose public file is gone keeps its name (the view answers 404).
    lost = LeaderApplicationFactory(user=other_shopper, community=community)
    private_storage().delete(lost.storefront_photo.name)
    LeaderApplication.objects.filter(pk=lost.pk).update(
        storefront_photo="leaders/applications/2026/10/gone.png"
    )

    migration = importlib.import_module("leaders.migrations.0008_private_storefront_photos")
    migration.move_storefront_photos(django_apps, None)
    migration.move_storefront_photos(django_apps, None)  # again: nothing more to move

    application.refresh_from_db()
    lost.refresh_from_db()
    assert PRIVATE_NAME.fullmatch(application.storefront_photo.name)
    assert (Path(settings.PRIVATE_MEDIA_ROOT) / application.storefront_photo.name).read_bytes() == (
        content
    )
    assert not public.exists()
    assert _files_under(Path(settings.MEDIA_ROOT)) == []
    assert lost.storefront_photo.name == "leaders/applications/2026/10/gone.png"


def test_a_resubmission_with_a_new_photo_stores_it_privately_too(client, shopper, community):
    client.force_login(shopper)
    client.post(reverse("leaders:apply"), _form(community))
    application = LeaderApplication.objects.get(user=shopper)
    LeaderApplication.objects.filter(pk=application.pk).update(
        status=ApplicationStatus.REJECTED, reject_reason="照片不清楚"
    )
    first = application.storefront_photo.name
    client.post(reverse("leaders:apply"), _form(community, storefront_photo=photo_upload()))
    application.refresh_from_db()
    assert application.storefront_photo.name != first
    assert PRIVATE_NAME.fullmatch(application.storefront_photo.name)

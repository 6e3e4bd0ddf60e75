# ruff: noqa: F811 - pytest fixtures imported from the logistics conftest and support
"""Label PDFs are laid out a chunk of labels at a time (LOGISTICS_PDF_CHUNK) and
written as one PDF: the same pages, in the same order, as one pass."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ImproperlyConfigured
from pypdf import PdfReader

from logistics import documents
from logistics.documents import data

from .conftest import (  # noqa: F401 - fixtures
    driver,
    eager_celery,
    egg_sku,
    other_pickup_point,
    point,
    route,
    sku,
)
from .documents_support import carol, pdf_pages, wave, wave_skus  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("chunk", [1, 2, 3])
def test_chunks_give_the_same_pages_as_one_pass(wave, route, settings, chunk):
    settings.LOGISTICS_PDF_CHUNK = 1000
    whole = documents.render_pdf(documents.labels_document(wave=wave, route_id=route.pk))
    settings.LOGISTICS_PDF_CHUNK = chunk
    chunked = documents.render_pdf(documents.labels_document(wave=wave, route_id=route.pk))

    codes = [lb.pickup_code for lb in data.labels(wave=wave, route_id=route.pk)]
    pages = pdf_pages(chunked)
    assert len(pages) == len(codes) == 3
    assert pages == pdf_pages(whole)
    for page, code in zip(pages, codes, strict=True):
        assert code in page
    reader = PdfReader(io.BytesIO(chunked))
    # Each page still draws its own QR code, at the label size.
    assert all(len(page.images) >= 1 for page in reader.pages)
    assert {
        (round(float(p.mediabox.width)), round(float(p.mediabox.height))) for p in reader.pages
    } == {(283, 198)}


def test_an_empty_label_document_is_still_a_pdf(wave, route, settings):
    from logistics.models import WaveLabel

    WaveLabel.objects.filter(wave=wave).delete()
    settings.LOGISTICS_PDF_CHUNK = 2
    assert documents.render_pdf(documents.labels_document(wave=wave, route_id=route.pk)).startswith(
        b"%PDF"
    )


@pytest.mark.parametrize("bad", [0, -1, "100", True])
def test_a_bad_chunk_setting_is_loud(wave, route, settings, bad):
    settings.LOGISTICS_PDF_CHUNK = bad
    with pytest.raises(ImproperlyConfigured):
        documents.render_pdf(documents.labels_document(wave=wave, route_id=route.pk))

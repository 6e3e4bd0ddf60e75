"""WeChat Pay's side for tests, made locally: merchant and platform keys, the
project configured for WeChat Pay with its key files, and answers signed with
the platform key as WeChat signs them (written here with `cryptography`, not
with the code under test).

    from tests.wechatpay_fake import merchant_key, platform_key, wechatpay_settings
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.orders.test_wechatpay import (
    API_V3_KEY,
    APP_ID,
    MCH_ID,
    MERCHANT_SERIAL,
    PLATFORM_SERIAL,
    PLATFORM_SERIAL_INT,
    _pem,
    verify_merchant_signature,
    wechat_headers,
)

DEFAULT_BASE_URL = "https://api.mch.weixin.qq.com"

__all__ = [
    "APP_ID",
    "DEFAULT_BASE_URL",
    "MCH_ID",
    "PLATFORM_SERIAL",
    "merchant_key",
    "platform_key",
    "stranger_key",
    "verify_merchant_signature",
    "wechat_headers",
    "wechatpay_settings",
]


@pytest.fixture(scope="module")
def merchant_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def platform_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def stranger_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def platform_certificate(platform_key) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
    start = datetime(2026, 1, 1, tzinfo=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(platform_key.public_key())
        .serial_number(PLATFORM_SERIAL_INT)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=1825))
        .sign(platform_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def wechatpay_settings(settings, tmp_path, merchant_key, platform_key):
    """WeChat Pay configured as in production: settings and key files."""
    (tmp_path / "apiclient_key.pem").write_bytes(_pem(merchant_key))
    (tmp_path / "platform.pem").write_bytes(platform_certificate(platform_key))
    settings.PAYMENT_PROVIDER = "wechatpay"
    settings.WECHATPAY_MCH_ID = MCH_ID
    settings.WECHATPAY_APP_ID = APP_ID
    settings.WECHATPAY_API_V3_KEY = API_V3_KEY
    settings.WECHATPAY_CERT_SERIAL = MERCHANT_SERIAL
    settings.WECHATPAY_PRIVATE_KEY_PATH = str(tmp_path / "apiclient_key.pem")
    settings.WECHATPAY_PLATFORM_CERT_PATH = str(tmp_path / "platform.pem")
    settings.WECHATPAY_PLATFORM_SERIAL = ""
    settings.WECHATPAY_BASE_URL = DEFAULT_BASE_URL
    return settings

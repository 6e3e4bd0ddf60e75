"""WeChat Pay's side for tests, made locally: merchant and platform keys, the
project configured for WeChat Pay with its key files, and answers signed with
the platform key as WeChat signs them (written here with `cryptography`, not
with the code under test). The one copy of the test merchant's constants,
keys and platform certificate: tests/orders/test_wechatpay.py imports them.

    from tests.wechatpay_fake import merchant_key, platform_key, wechatpay_settings
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from orders.payments.wechatpay import parse_authorization

NOW = 1_795_000_000  # 2026-11-18, a fixed clock
MCH_ID = "1900009191"
APP_ID = "wxd678efh567hg6787"
API_V3_KEY = "0123456789abcdef0123456789ABCDEF"
MERCHANT_SERIAL = "3775B6A45ACD588826D15E583A95F5DD12345678"
PLATFORM_SERIAL_INT = 0x5157F09EFDC096DE15EBE81A47057A7232F1B8E1
PLATFORM_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
DEFAULT_BASE_URL = "https://api.mch.weixin.qq.com"

__all__ = [
    "API_V3_KEY",
    "APP_ID",
    "DEFAULT_BASE_URL",
    "MCH_ID",
    "MERCHANT_SERIAL",
    "NOW",
    "PLATFORM_SERIAL",
    "PLATFORM_SERIAL_INT",
    "merchant_key",
    "pem",
    "platform_certificate",
    "platform_key",
    "stranger_key",
    "verify_merchant_signature",
    "wechat_headers",
    "wechat_sign",
    "wechatpay_settings",
]


def pem(key: rsa.RSAPrivateKey) -> bytes:
    """A private key as the PKCS#8 PEM file WeChat's merchant platform gives."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


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


def wechat_sign(key, timestamp: int, nonce: str, body: bytes) -> str:
    message = f"{timestamp}\n{nonce}\n".encode() + body + b"\n"
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def wechat_headers(key, body: bytes, *, timestamp=NOW, serial=PLATFORM_SERIAL, nonce="n0nce42"):
    return {
        "Wechatpay-Timestamp": str(timestamp),
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": wechat_sign(key, timestamp, nonce, body),
        "Wechatpay-Serial": serial,
    }


def verify_merchant_signature(merchant_key, method, url_path, body: bytes, authorization):
    """What WeChat's server does with our Authorization header."""
    fields = parse_authorization(authorization)
    message = (
        f"{method}\n{url_path}\n{fields['timestamp']}\n{fields['nonce_str']}\n".encode()
        + body
        + b"\n"
    )
    merchant_key.public_key().verify(
        base64.b64decode(fields["signature"]), message, padding.PKCS1v15(), hashes.SHA256()
    )
    return fields


@pytest.fixture
def wechatpay_settings(settings, tmp_path, merchant_key, platform_key):
    """WeChat Pay configured as in production: settings and key files."""
    (tmp_path / "apiclient_key.pem").write_bytes(pem(merchant_key))
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

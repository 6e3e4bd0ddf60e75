"""WeChat Pay API v3 signatures, shared by payments (orders) and payouts
(leaders' commission transfers): both speak to the same merchant API with the
same keys, so the signing and verifying code exists once, below every app.

- Requests carry `Authorization: WECHATPAY2-SHA256-RSA2048 mchid=…,nonce_str=…,
  timestamp=…,serial_no=…,signature=…`, the signature being RSA-SHA256
  (PKCS#1 v1.5) with the merchant key over
  "METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n".
- Answers and notifications are signed by WeChat Pay with the platform key over
  "TIMESTAMP\\nNONCE\\nBODY\\n" (headers Wechatpay-Timestamp, -Nonce,
  -Signature, -Serial); they are verified on the raw body before anything is
  parsed, and a timestamp more than 5 minutes away from now is refused.

orders.payments.wechatpay re-exports these names (its SignatureVerifier raises
the payment provider's own errors).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import time
from collections.abc import Callable, Mapping

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

AUTH_SCHEMA = "WECHATPAY2-SHA256-RSA2048"
# A signed message whose timestamp is further than this from now is refused.
WINDOW_SECONDS = 5 * 60

Clock = Callable[[], float]


class BadSignature(Exception):
    """A message whose signature (or serial) does not verify: never act on it."""


class StaleSignature(Exception):
    """An authentic message whose timestamp is outside the window: a replay."""


# --- keys and signatures ----------------------------------------------------


def _as_bytes(pem: str | bytes) -> bytes:
    return pem.encode("ascii") if isinstance(pem, str) else pem


def load_private_key(pem: str | bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(_as_bytes(pem), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the merchant key must be an RSA private key")
    return key


def load_platform_key(pem: str | bytes) -> tuple[rsa.RSAPublicKey, str | None]:
    """A platform certificate or a bare WeChat Pay public key (PEM).

    Returns the key and, for a certificate, its serial as WeChat writes it
    (upper-case hex); a bare public key carries no serial (its id, like
    "PUB_KEY_ID_…", is configured beside it).
    """
    data = _as_bytes(pem)
    if b"BEGIN CERTIFICATE" in data:
        cert = x509.load_pem_x509_certificate(data)
        key = cert.public_key()
        serial: str | None = format(cert.serial_number, "X")
    else:
        key = serialization.load_pem_public_key(data)
        serial = None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the platform key must be RSA")
    return key, serial


def new_nonce() -> str:
    return secrets.token_hex(16).upper()


def signature_message(*lines: str | bytes) -> bytes:
    """Each part followed by a newline, as every v3 signature wants."""
    return b"".join(_utf8(line) + b"\n" for line in lines)


def _utf8(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def rsa_sign(private_key: rsa.RSAPrivateKey, message: bytes) -> str:
    signature = private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def rsa_verify(public_key: rsa.RSAPublicKey, message: bytes, signature_b64: str) -> bool:
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def build_authorization(
    *,
    method: str,
    url_path: str,
    body: str | bytes,
    mch_id: str,
    serial_no: str,
    private_key: rsa.RSAPrivateKey,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> str:
    """The Authorization header of one request. `url_path` includes the query."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    nonce = nonce or new_nonce()
    message = signature_message(method.upper(), url_path, str(timestamp), nonce, _utf8(body))
    signature = rsa_sign(private_key, message)
    return (
        f'{AUTH_SCHEMA} mchid="{mch_id}",nonce_str="{nonce}",timestamp="{timestamp}",'
        f'serial_no="{serial_no}",signature="{signature}"'
    )


def parse_authorization(header: str) -> dict[str, str]:
    """The fields of an Authorization header (for tests and the sandbox)."""
    schema, _, rest = header.partition(" ")
    if schema != AUTH_SCHEMA:
        raise ValueError(f"unexpected authorization schema {schema!r}")
    return dict(re.findall(r'(\w+)="([^"]*)"', rest))


# --- verifying what WeChat Pay sends ----------------------------------------


def _lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in headers.items()}


class SignatureVerifier:
    """Checks Wechatpay-* signature headers against the platform keys we trust.

    `public_keys` maps a serial (platform certificate serial, or a public key
    id "PUB_KEY_ID_…") to its key; during a key rotation it holds both.
    """

    def __init__(
        self,
        public_keys: Mapping[str, rsa.RSAPublicKey],
        *,
        clock: Clock = time.time,
        window_seconds: int = WINDOW_SECONDS,
    ):
        if not public_keys:
            raise ValueError("at least one platform key is needed")
        self._keys = {serial.upper(): key for serial, key in public_keys.items()}
        self._clock = clock
        self._window = window_seconds

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        """Raise SignatureInvalid or NotificationReplayed; return None when good.

        The signature is checked first, so StaleSignature always means an
        authentic but stale (or future) message: a replay worth logging.
        """
        h = _lower_headers(headers)
        timestamp = h.get("wechatpay-timestamp", "")
        nonce = h.get("wechatpay-nonce", "")
        signature = h.get("wechatpay-signature", "")
        serial = h.get("wechatpay-serial", "")
        if not (timestamp and nonce and signature and serial):
            raise BadSignature("missing Wechatpay signature headers")
        signature_type = h.get("wechatpay-signature-type", AUTH_SCHEMA)
        if signature_type != AUTH_SCHEMA:
            raise BadSignature(f"unsupported signature type {signature_type!r}")
        key = self._keys.get(serial.upper())
        if key is None:
            raise BadSignature(f"unknown platform serial {serial!r}")
        if not rsa_verify(key, signature_message(timestamp, nonce, body), signature):
            raise BadSignature("signature does not verify")
        try:
            sent_at = int(timestamp)
        except ValueError:
            raise BadSignature("timestamp is not an integer") from None
        if abs(self._clock() - sent_at) > self._window:
            raise StaleSignature(f"timestamp {sent_at} is outside the 5-minute window")

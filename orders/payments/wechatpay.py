"""WeChat Pay API v3 (direct merchant): JSAPI and H5 payments, query, close, refunds.

Implemented on `cryptography` and `requests` rather than an SDK so that every
step of the money path is in our hands and under test:

- Requests carry `Authorization: WECHATPAY2-SHA256-RSA2048 mchid=…,nonce_str=…,
  timestamp=…,serial_no=…,signature=…`, the signature being RSA-SHA256
  (PKCS#1 v1.5) with the merchant key over
  "METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n".
- Responses and notifications are signed by WeChat Pay with the platform key
  over "TIMESTAMP\\nNONCE\\nBODY\\n" (headers Wechatpay-Timestamp, -Nonce,
  -Signature, -Serial). We verify that on the raw body before parsing it, and
  refuse timestamps more than 5 minutes away from now.
- A notification's `resource` is AES-256-GCM encrypted with the APIv3 key.

The request signature and the answer verification are shared with leaders'
payouts and live in tuangou.wechatpay_v3 (re-exported here).

The sandbox provider (sandbox.py) reuses the verification and decryption
below, so the demo payment path runs the same code as production.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import requests
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tuangou import wechatpay_v3 as v3
from tuangou.wechatpay_v3 import (  # noqa: F401 - re-exported: the sandbox and tests use them
    AUTH_SCHEMA,
    Clock,
    _utf8,
    build_authorization,
    load_platform_key,
    load_private_key,
    new_nonce,
    parse_authorization,
    rsa_sign,
    rsa_verify,
    signature_message,
)

from .base import (
    MalformedNotification,
    NotificationReplayed,
    PaymentNotification,
    PrepayRequest,
    PrepayResult,
    ProviderError,
    QueryResult,
    RefundNotification,
    RefundRequest,
    RefundResult,
    SignatureInvalid,
)

DEFAULT_BASE_URL = "https://api.mch.weixin.qq.com"
SHANGHAI = ZoneInfo("Asia/Shanghai")
# Codes after which the same request may succeed later (WeChat's error table).
RETRYABLE_CODES = frozenset({"SYSTEM_ERROR", "SYSTEMERROR", "FREQUENCY_LIMITED", "BANK_ERROR"})
# out_refund_no: at most 64 characters of [0-9a-zA-Z_-|*@].
_OUT_REFUND_NO = re.compile(r"^[0-9A-Za-z_\-|*@]{1,64}$")


# --- the JSAPI pay-sign ---------------------------------------------------------


def jsapi_pay_params(
    *,
    app_id: str,
    prepay_id: str,
    private_key: rsa.RSAPrivateKey,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """Arguments of WeixinJSBridge getBrandWCPayRequest, signed for the page."""
    time_stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce_str = nonce or new_nonce()
    package = f"prepay_id={prepay_id}"
    pay_sign = rsa_sign(private_key, signature_message(app_id, time_stamp, nonce_str, package))
    return {
        "appId": app_id,
        "timeStamp": time_stamp,
        "nonceStr": nonce_str,
        "package": package,
        "signType": "RSA",
        "paySign": pay_sign,
    }


# --- AES-256-GCM resources --------------------------------------------------


def _aes_key(api_v3_key: str | bytes) -> bytes:
    key = _utf8(api_v3_key)
    if len(key) != 32:
        raise ValueError("the APIv3 key must be 32 bytes")
    return key


def aes_gcm_decrypt(
    api_v3_key: str | bytes, *, nonce: str, ciphertext: str, associated_data: str = ""
) -> bytes:
    """Decrypt a notification resource. Raises InvalidTag on a wrong key or tampering."""
    return AESGCM(_aes_key(api_v3_key)).decrypt(
        _utf8(nonce), base64.b64decode(ciphertext), _utf8(associated_data) or None
    )


def aes_gcm_encrypt(
    api_v3_key: str | bytes, plaintext: bytes, *, nonce: str, associated_data: str = ""
) -> str:
    """The inverse, as WeChat Pay does it (used by the sandbox and tests)."""
    sealed = AESGCM(_aes_key(api_v3_key)).encrypt(
        _utf8(nonce), plaintext, _utf8(associated_data) or None
    )
    return base64.b64encode(sealed).decode("ascii")


# --- verifying what WeChat Pay sends ----------------------------------------


class SignatureVerifier(v3.SignatureVerifier):
    """Checks Wechatpay-* signature headers against the platform keys we trust
    (tuangou.wechatpay_v3), raising the payment provider's errors."""

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        try:
            super().verify(headers, body)
        except v3.StaleSignature as exc:
            raise NotificationReplayed(str(exc)) from None
        except v3.BadSignature as exc:
            raise SignatureInvalid(str(exc)) from None


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise MalformedNotification(f"bad time {value!r}") from None
    if moment.tzinfo is None:
        raise MalformedNotification(f"naive time {value!r}")
    return moment


def _payment_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    amount = data.get("amount") or {}
    total = int(amount.get("total") or 0)
    return {
        "out_trade_no": str(data.get("out_trade_no", "")),
        "transaction_id": str(data.get("transaction_id", "")),
        "trade_state": str(data.get("trade_state", "")),
        "amount_fen": total,
        "payer_total_fen": int(amount.get("payer_total") or 0),
        "success_time": _parse_time(data.get("success_time")),
    }


class NotificationParser:
    """Verify, decrypt and parse payment and refund notifications.

    `mch_id`, when given, must match the decrypted resource: a notification
    for another merchant is never ours to act on.
    """

    def __init__(self, verifier: SignatureVerifier, api_v3_key: str | bytes, *, mch_id: str = ""):
        self.verifier = verifier
        self._api_v3_key = _aes_key(api_v3_key)
        self.mch_id = mch_id

    def _open(self, headers: Mapping[str, str], body: bytes, kind: str) -> tuple[dict, dict]:
        self.verifier.verify(headers, body)
        try:
            envelope = json.loads(body)
            resource = envelope["resource"]
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedNotification(f"not a notification: {exc}") from exc
        if resource.get("algorithm") != "AEAD_AES_256_GCM":
            raise MalformedNotification(f"unknown algorithm {resource.get('algorithm')!r}")
        try:
            plaintext = aes_gcm_decrypt(
                self._api_v3_key,
                nonce=resource["nonce"],
                ciphertext=resource["ciphertext"],
                associated_data=resource.get("associated_data", ""),
            )
            data = json.loads(plaintext)
        except InvalidTag:
            raise MalformedNotification("cannot decrypt the resource (APIv3 key?)") from None
        except (KeyError, ValueError, TypeError) as exc:
            raise MalformedNotification(f"bad resource: {exc}") from exc
        event_type = str(envelope.get("event_type", ""))
        if not event_type.startswith(kind + "."):
            raise MalformedNotification(f"expected a {kind} notification, got {event_type!r}")
        if self.mch_id and str(data.get("mchid", "")) != self.mch_id:
            raise MalformedNotification("notification for another merchant")
        return envelope, data

    def parse_payment(self, headers: Mapping[str, str], body: bytes) -> PaymentNotification:
        envelope, data = self._open(headers, body, "TRANSACTION")
        try:
            return PaymentNotification(
                **_payment_fields(data),
                raw=data,
                event_type=str(envelope.get("event_type", "")),
                notification_id=str(envelope.get("id", "")),
                payer_openid=str((data.get("payer") or {}).get("openid", "")),
            )
        except MalformedNotification:
            raise
        except (AttributeError, TypeError, ValueError) as exc:
            raise MalformedNotification(f"bad transaction fields: {exc}") from exc

    def parse_refund(self, headers: Mapping[str, str], body: bytes) -> RefundNotification:
        envelope, data = self._open(headers, body, "REFUND")
        try:
            amount = data.get("amount") or {}
            return RefundNotification(
                out_trade_no=str(data.get("out_trade_no", "")),
                out_refund_no=str(data.get("out_refund_no", "")),
                refund_id=str(data.get("refund_id", "")),
                transaction_id=str(data.get("transaction_id", "")),
                refund_status=str(data.get("refund_status", "")),
                refund_fen=int(amount.get("refund") or 0),
                total_fen=int(amount.get("total") or 0),
                success_time=_parse_time(data.get("success_time")),
                raw=data,
                event_type=str(envelope.get("event_type", "")),
                notification_id=str(envelope.get("id", "")),
            )
        except MalformedNotification:
            raise
        except (AttributeError, TypeError, ValueError) as exc:
            raise MalformedNotification(f"bad refund fields: {exc}") from exc


def out_refund_no_for(order_number: str, refund_id: int | str) -> str:
    """The out_refund_no of one refund record: the same on every retry.

    WeChat treats a repeated out_refund_no as the same refund, so a task that
    retries after a timeout can never refund twice. Long inputs are hashed to
    stay within WeChat's 64 characters.
    """
    candidate = f"{order_number}-R{refund_id}"
    if _OUT_REFUND_NO.match(candidate):
        return candidate
    if not re.fullmatch(r"[0-9A-Za-z_\-|*@]+", candidate):
        raise ValueError(f"out_refund_no may not contain these characters: {candidate!r}")
    digest = hashlib.sha256(candidate.encode("ascii")).hexdigest()[:40]
    return f"R{digest}"


def _refund_result(data: Mapping[str, Any]) -> RefundResult:
    amount = data.get("amount") or {}
    return RefundResult(
        out_refund_no=str(data.get("out_refund_no", "")),
        refund_id=str(data.get("refund_id", "")),
        status=str(data.get("status", "")),
        refund_fen=int(amount.get("refund") or 0),
        success_time=_parse_time(data.get("success_time")),
        raw=data,
    )


def _parsed_answer(build: Callable[[], Any]) -> Any:
    """A verified answer whose fields do not parse is the provider's fault."""
    try:
        return build()
    except (AttributeError, TypeError, ValueError) as exc:
        raise ProviderError("BAD_RESPONSE", str(exc)) from exc


# --- the provider -----------------------------------------------------------


class WechatPayProvider:
    name = "wechatpay"

    def __init__(
        self,
        *,
        mch_id: str,
        app_id: str,
        api_v3_key: str,
        private_key_pem: str | bytes,
        merchant_serial: str,
        platform_key_pem: str | bytes,
        platform_serial: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (5.0, 15.0),
        clock: Clock = time.time,
    ):
        """`platform_key_pem` is the platform certificate (its serial is read
        from it) or the WeChat Pay public key, whose id ("PUB_KEY_ID_…") must
        then be passed as `platform_serial`."""
        self.mch_id = mch_id
        self.app_id = app_id
        self.merchant_serial = merchant_serial
        self._private_key = load_private_key(private_key_pem)
        platform_key, cert_serial = load_platform_key(platform_key_pem)
        serial = platform_serial or cert_serial
        if not serial:
            raise ValueError("a bare platform public key needs its platform_serial (public key id)")
        self.platform_serial = serial
        self.base_url = base_url.rstrip("/")
        # A plain requests call per request unless a session is given: one
        # provider is shared by threads, and a Session is not thread-safe.
        self.session = session
        self.timeout = timeout
        self._clock = clock
        verifier = SignatureVerifier({serial: platform_key}, clock=clock)
        self.notifications = NotificationParser(verifier, api_v3_key, mch_id=mch_id)

    @classmethod
    def from_settings(cls) -> WechatPayProvider:
        from django.conf import settings

        config = (
            settings.WECHATPAY_MCH_ID,
            settings.WECHATPAY_APP_ID,
            settings.WECHATPAY_API_V3_KEY,
            settings.WECHATPAY_PRIVATE_KEY_PATH,
            settings.WECHATPAY_CERT_SERIAL,
            settings.WECHATPAY_PLATFORM_CERT_PATH,
            getattr(settings, "WECHATPAY_PLATFORM_SERIAL", ""),
            getattr(settings, "WECHATPAY_BASE_URL", DEFAULT_BASE_URL),
        )
        return _provider_from_config(config)

    # -- HTTP --

    def _call(
        self, method: str, path: str, *, query: Mapping[str, str] | None = None, payload=None
    ) -> dict[str, Any]:
        url_path = path + (f"?{urlencode(query)}" if query else "")
        body = (
            json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            if payload is not None
            else b""
        )
        headers = {
            "Authorization": build_authorization(
                method=method,
                url_path=url_path,
                body=body,
                mch_id=self.mch_id,
                serial_no=self.merchant_serial,
                private_key=self._private_key,
                timestamp=int(self._clock()),
            ),
            "Accept": "application/json",
            "User-Agent": "tuangou-wechatpay/1",
        }
        if payload is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = (self.session or requests).request(
                method, self.base_url + url_path, data=body or None, headers=headers,
                timeout=self.timeout,
            )  # fmt: skip
        except requests.RequestException as exc:
            raise ProviderError("NETWORK_ERROR", str(exc), retryable=True) from exc
        content = response.content
        if response.status_code >= 400:
            try:
                error = json.loads(content)
                code, message = str(error["code"]), str(error.get("message", ""))
                detail = error.get("detail")
            except (ValueError, KeyError, TypeError):
                code, message, detail = f"HTTP_{response.status_code}", content[:200], None
            raise ProviderError(
                code,
                str(message),
                status=response.status_code,
                retryable=response.status_code >= 500 or code in RETRYABLE_CODES,
                detail=detail,
            )
        # Only a verified answer is believed: a forged "SUCCESS" must not
        # mark anything paid or refunded.
        try:
            self.notifications.verifier.verify(response.headers, content)
        except (SignatureInvalid, NotificationReplayed) as exc:
            raise ProviderError(
                "BAD_RESPONSE_SIGNATURE", str(exc), status=response.status_code
            ) from exc
        if not content:
            return {}
        try:
            return json.loads(content)
        except ValueError as exc:
            raise ProviderError("BAD_RESPONSE", str(exc), status=response.status_code) from exc

    # -- operations --

    def create_prepay(self, req: PrepayRequest) -> PrepayResult:
        if req.channel not in ("jsapi", "h5"):
            raise ValueError(f"WeChat Pay cannot pay through {req.channel!r}")
        payload: dict[str, Any] = {
            "appid": self.app_id,
            "mchid": self.mch_id,
            "description": req.description[:127],
            "out_trade_no": req.out_trade_no,
            "time_expire": req.expires_at.astimezone(SHANGHAI).isoformat(timespec="seconds"),
            "notify_url": req.notify_url,
            "amount": {"total": req.amount_fen, "currency": "CNY"},
        }
        if req.channel == "jsapi":
            payload["payer"] = {"openid": req.payer_openid}
            data = self._call("POST", "/v3/pay/transactions/jsapi", payload=payload)
            prepay_id = str(data.get("prepay_id", ""))
            if not prepay_id:
                raise ProviderError("BAD_RESPONSE", "no prepay_id in the answer")
            return PrepayResult(
                channel="jsapi",
                out_trade_no=req.out_trade_no,
                prepay_id=prepay_id,
                jsapi_params=jsapi_pay_params(
                    app_id=self.app_id,
                    prepay_id=prepay_id,
                    private_key=self._private_key,
                    timestamp=int(self._clock()),
                ),
            )
        payload["scene_info"] = {"payer_client_ip": req.client_ip, "h5_info": {"type": "Wap"}}
        data = self._call("POST", "/v3/pay/transactions/h5", payload=payload)
        h5_url = str(data.get("h5_url", ""))
        if not h5_url:
            raise ProviderError("BAD_RESPONSE", "no h5_url in the answer")
        return PrepayResult(channel="h5", out_trade_no=req.out_trade_no, h5_url=h5_url)

    def query_order(self, out_trade_no: str) -> QueryResult:
        data = self._call(
            "GET",
            f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}",
            query={"mchid": self.mch_id},
        )
        return _parsed_answer(lambda: QueryResult(**_payment_fields(data), raw=data))

    def close_order(self, out_trade_no: str) -> None:
        self._call(
            "POST",
            f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}/close",
            payload={"mchid": self.mch_id},
        )

    def refund(self, req: RefundRequest) -> RefundResult:
        payload = {
            "out_trade_no": req.out_trade_no,
            "out_refund_no": req.out_refund_no,
            "reason": req.reason[:80],
            "notify_url": req.notify_url,
            "amount": {"refund": req.refund_fen, "total": req.total_fen, "currency": "CNY"},
        }
        data = self._call("POST", "/v3/refund/domestic/refunds", payload=payload)
        return _parsed_answer(lambda: _refund_result(data))

    def query_refund(self, out_refund_no: str) -> RefundResult:
        path = f"/v3/refund/domestic/refunds/{quote(out_refund_no, safe='')}"
        data = self._call("GET", path)
        return _parsed_answer(lambda: _refund_result(data))

    def parse_payment_notification(
        self, headers: Mapping[str, str], body: bytes
    ) -> PaymentNotification:
        return self.notifications.parse_payment(headers, body)

    def parse_refund_notification(
        self, headers: Mapping[str, str], body: bytes
    ) -> RefundNotification:
        return self.notifications.parse_refund(headers, body)


@lru_cache(maxsize=4)
def _provider_from_config(config: tuple[str, ...]) -> WechatPayProvider:
    from django.core.exceptions import ImproperlyConfigured

    mch_id, app_id, api_v3_key, key_path, serial, platform_path, platform_serial, base = config
    missing = [
        name
        for name, value in (
            ("WECHATPAY_MCH_ID", mch_id),
            ("WECHATPAY_APP_ID", app_id),
            ("WECHATPAY_API_V3_KEY", api_v3_key),
            ("WECHATPAY_PRIVATE_KEY_PATH", key_path),
            ("WECHATPAY_CERT_SERIAL", serial),
            ("WECHATPAY_PLATFORM_CERT_PATH", platform_path),
        )
        if not value
    ]
    if missing:
        raise ImproperlyConfigured(f"WeChat Pay needs {', '.join(missing)}")
    return WechatPayProvider(
        mch_id=mch_id,
        app_id=app_id,
        api_v3_key=api_v3_key,
        private_key_pem=Path(key_path).read_bytes(),
        merchant_serial=serial,
        platform_key_pem=Path(platform_path).read_bytes(),
        platform_serial=platform_serial or None,
        base_url=base,
    )

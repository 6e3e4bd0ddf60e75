"""A sandbox payment provider for demos and tests that speaks WeChat Pay's format.

Its notifications are signed with an RSA key of its own and their resource is
AES-256-GCM encrypted exactly as WeChat Pay does it, so the notify endpoint
runs the same verification and decryption code (wechatpay.NotificationParser)
in a demo as in production. The 模拟支付 page calls
`build_payment_notification()` and hands the result to the notify path.

Keys: tests pass them explicitly; otherwise one key is generated at first use
into settings.SANDBOX_PAY_DIR (default BASE_DIR/var/sandbox_pay), shared by
every process of the installation (web workers, Celery).

State (what was prepaid, paid, closed, refunded) lives in the Django cache
for a week: enough for query_order and refunds in a demo. It may be evicted;
an unknown order is then refundable, never an error, so seeded demo orders
can be refunded too.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .base import (
    PaymentNotification,
    PrepayRequest,
    PrepayResult,
    ProviderError,
    QueryResult,
    RefundNotification,
    RefundRequest,
    RefundResult,
    RefundStatus,
    TradeState,
)
from .wechatpay import (
    AUTH_SCHEMA,
    SHANGHAI,
    NotificationParser,
    SignatureVerifier,
    aes_gcm_encrypt,
    load_private_key,
    new_nonce,
    rsa_sign,
    signature_message,
)

SANDBOX_MCH_ID = "sandbox"
SANDBOX_SERIAL = "SANDBOX0001"
STATE_TIMEOUT = 7 * 24 * 3600
KEY_FILE = "platform_private_key.pem"

Notifier = Callable[[str, Mapping[str, str], bytes], None]


def generate_private_key_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_or_create_key(directory: Path) -> bytes:
    """The sandbox key in `directory`, created on first use.

    Two processes starting together must end up with the same key: each
    writes a temporary file and links it into place; os.link fails if the
    other got there first, and then both read the winner's file.
    """
    path = directory / KEY_FILE
    if path.exists():
        return path.read_bytes()
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".key-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(generate_private_key_pem())
        os.chmod(tmp, 0o600)
        # The loser of a race reads the winner's key below.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)
    return path.read_bytes()


def _digest(*parts: str, length: int = 24) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:length].upper()


def transaction_id_for(out_trade_no: str) -> str:
    """Stable per order: paying the same order twice in the sandbox is one payment."""
    return f"SANDBOX{_digest('transaction', out_trade_no)}"


class _CacheStore:
    """The Django cache under a sandbox prefix (default store)."""

    def get(self, key: str) -> Any:
        from django.core.cache import cache

        return cache.get(f"sandbox_pay:{key}")

    def set(self, key: str, value: Any) -> None:
        from django.core.cache import cache

        cache.set(f"sandbox_pay:{key}", value, STATE_TIMEOUT)


class SandboxProvider:
    name = "sandbox"

    def __init__(
        self,
        *,
        private_key_pem: str | bytes,
        api_v3_key: str | None = None,
        serial: str = SANDBOX_SERIAL,
        store: Any = None,
        clock: Callable[[], float] = time.time,
        on_notification: Notifier | None = None,
    ):
        """`on_notification(kind, headers, body)`, when given, receives the
        signed refund notification a refund produces ("refund"), as WeChat
        would POST it: the orders app can feed it to its notify handler."""
        self._private_key = load_private_key(private_key_pem)
        pem = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
        # Derived from the key so every process agrees without another file.
        self.api_v3_key = api_v3_key or hashlib.sha256(b"apiv3\x00" + pem).hexdigest()[:32]
        self.serial = serial
        self.mch_id = SANDBOX_MCH_ID
        self.store = store if store is not None else _CacheStore()
        self._clock = clock
        self.on_notification = on_notification
        verifier = SignatureVerifier({serial: self._private_key.public_key()}, clock=clock)
        self.notifications = NotificationParser(verifier, self.api_v3_key, mch_id=self.mch_id)

    @classmethod
    def from_settings(cls) -> SandboxProvider:
        from django.conf import settings

        directory = getattr(settings, "SANDBOX_PAY_DIR", None) or (
            Path(settings.BASE_DIR) / "var" / "sandbox_pay"
        )
        return _provider_for_dir(str(directory))

    def public_key_pem(self) -> bytes:
        return self._private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    # -- signing as WeChat Pay does --

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), SHANGHAI)

    def sign_headers(self, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
        """Wechatpay-* headers for a body, as on a WeChat Pay notification."""
        timestamp = int(self._clock()) if timestamp is None else timestamp
        nonce = new_nonce()
        signature = rsa_sign(self._private_key, signature_message(str(timestamp), nonce, body))
        return {
            "Wechatpay-Timestamp": str(timestamp),
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": signature,
            "Wechatpay-Serial": self.serial,
            "Wechatpay-Signature-Type": AUTH_SCHEMA,
            "Content-Type": "application/json",
        }

    def _notification(
        self,
        *,
        event_type: str,
        summary: str,
        original_type: str,
        resource: Mapping[str, Any],
        notification_id: str,
        timestamp: int | None,
    ) -> tuple[dict[str, str], bytes]:
        nonce = new_nonce()[:12]
        plaintext = json.dumps(resource, ensure_ascii=False, separators=(",", ":"))
        envelope = {
            "id": notification_id,
            "create_time": self._now().isoformat(timespec="seconds"),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": {
                "original_type": original_type,
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": aes_gcm_encrypt(
                    self.api_v3_key,
                    plaintext.encode("utf-8"),
                    nonce=nonce,
                    associated_data=original_type,
                ),
                "associated_data": original_type,
                "nonce": nonce,
            },
        }
        body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return self.sign_headers(body, timestamp=timestamp), body

    def build_payment_notification(
        self,
        out_trade_no: str,
        amount_fen: int,
        *,
        payer_total_fen: int | None = None,
        trade_state: str = TradeState.SUCCESS,
        payer_openid: str = "",
        timestamp: int | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """A signed TRANSACTION.SUCCESS notification; records the order as paid."""
        order = self.store.get(f"order:{out_trade_no}") or {"amount_fen": amount_fen}
        success_time = order.get("success_time") or self._now().isoformat(timespec="seconds")
        if trade_state == TradeState.SUCCESS and order.get("trade_state") != TradeState.REFUND:
            order.update(trade_state=TradeState.SUCCESS, success_time=success_time)
            self.store.set(f"order:{out_trade_no}", order)
        resource = {
            "mchid": self.mch_id,
            "appid": "sandbox",
            "out_trade_no": out_trade_no,
            "transaction_id": transaction_id_for(out_trade_no),
            "trade_type": "JSAPI",
            "trade_state": trade_state,
            "trade_state_desc": "支付成功" if trade_state == TradeState.SUCCESS else trade_state,
            "bank_type": "OTHERS",
            "attach": "",
            "success_time": success_time,
            "payer": {"openid": payer_openid},
            "amount": {
                "total": amount_fen,
                "payer_total": amount_fen if payer_total_fen is None else payer_total_fen,
                "currency": "CNY",
                "payer_currency": "CNY",
            },
        }
        return self._notification(
            event_type="TRANSACTION.SUCCESS",
            summary="支付成功",
            original_type="transaction",
            resource=resource,
            notification_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox-pay:{out_trade_no}")),
            timestamp=timestamp,
        )

    def build_refund_notification(
        self,
        *,
        out_trade_no: str,
        out_refund_no: str,
        refund_fen: int,
        total_fen: int,
        refund_status: str = RefundStatus.SUCCESS,
        timestamp: int | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """A signed REFUND.<status> notification for one refund."""
        resource = {
            "mchid": self.mch_id,
            "out_trade_no": out_trade_no,
            "transaction_id": transaction_id_for(out_trade_no),
            "out_refund_no": out_refund_no,
            "refund_id": self._refund_id(out_refund_no),
            "refund_status": refund_status,
            "success_time": self._now().isoformat(timespec="seconds"),
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": total_fen,
                "refund": refund_fen,
                "payer_total": total_fen,
                "payer_refund": refund_fen,
            },
        }
        return self._notification(
            event_type=f"REFUND.{refund_status}",
            summary="退款成功" if refund_status == RefundStatus.SUCCESS else refund_status,
            original_type="refund",
            resource=resource,
            notification_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox-refund:{out_refund_no}")),
            timestamp=timestamp,
        )

    @staticmethod
    def _refund_id(out_refund_no: str) -> str:
        return f"SANDBOXR{_digest('refund', out_refund_no)}"

    # -- the provider interface --

    def pay_url(self, out_trade_no: str) -> str:
        from django.urls import NoReverseMatch, reverse

        try:
            return reverse("orders:sandbox_pay", args=[out_trade_no])
        except NoReverseMatch:
            # The 模拟支付 page arrives with the orders views.
            return f"/orders/pay/sandbox/{quote(out_trade_no, safe='')}/"

    def create_prepay(self, req: PrepayRequest) -> PrepayResult:
        key = f"order:{req.out_trade_no}"
        order = self.store.get(key) or {}
        if order.get("trade_state") not in TradeState.PAID:
            order.update(
                amount_fen=req.amount_fen,
                description=req.description,
                notify_url=req.notify_url,
                expires_at=req.expires_at.isoformat(),
                trade_state=TradeState.NOTPAY,
            )
            self.store.set(key, order)
        return PrepayResult(
            channel="sandbox",
            out_trade_no=req.out_trade_no,
            prepay_id=f"sandbox_{_digest('prepay', req.out_trade_no, length=32).lower()}",
            sandbox_url=self.pay_url(req.out_trade_no),
        )

    def query_order(self, out_trade_no: str) -> QueryResult:
        order = self.store.get(f"order:{out_trade_no}")
        if order is None:
            raise ProviderError("ORDER_NOT_EXIST", "order does not exist", status=404)
        state = order.get("trade_state", TradeState.NOTPAY)
        paid = state in TradeState.PAID
        raw = {"out_trade_no": out_trade_no, "trade_state": state, **order}
        return QueryResult(
            out_trade_no=out_trade_no,
            trade_state=state,
            transaction_id=transaction_id_for(out_trade_no) if paid else "",
            amount_fen=int(order.get("amount_fen", 0)),
            payer_total_fen=int(order.get("amount_fen", 0)) if paid else 0,
            success_time=datetime.fromisoformat(order["success_time"]) if paid else None,
            raw=raw,
        )

    def close_order(self, out_trade_no: str) -> None:
        # Like WeChat, closing a paid order changes nothing: the caller must
        # query afterwards (a payment that raced the close gets refunded).
        key = f"order:{out_trade_no}"
        order = self.store.get(key) or {}
        if order.get("trade_state") not in TradeState.PAID:
            order["trade_state"] = TradeState.CLOSED
            self.store.set(key, order)

    def refund(self, req: RefundRequest) -> RefundResult:
        """Succeeds at once. The same out_refund_no twice is the same refund."""
        refund_key = f"refund:{req.out_refund_no}"
        known = self.store.get(refund_key)
        if known is not None:
            return self._refund_result(known)
        order_key = f"order:{req.out_trade_no}"
        order = self.store.get(order_key)
        if order is not None:
            if order.get("trade_state") not in TradeState.PAID:
                raise ProviderError("INVALID_REQUEST", "the order is not paid", status=400)
            refunded = int(order.get("refunded_fen", 0))
            if refunded + req.refund_fen > int(order.get("amount_fen", req.total_fen)):
                raise ProviderError("NOT_ENOUGH", "refund exceeds what is left", status=403)
            order.update(refunded_fen=refunded + req.refund_fen, trade_state=TradeState.REFUND)
            self.store.set(order_key, order)
        record = {
            "out_trade_no": req.out_trade_no,
            "out_refund_no": req.out_refund_no,
            "refund_id": self._refund_id(req.out_refund_no),
            "status": RefundStatus.SUCCESS,
            "success_time": self._now().isoformat(timespec="seconds"),
            "amount": {"refund": req.refund_fen, "total": req.total_fen, "currency": "CNY"},
        }
        self.store.set(refund_key, record)
        if self.on_notification is not None:
            headers, body = self.build_refund_notification(
                out_trade_no=req.out_trade_no,
                out_refund_no=req.out_refund_no,
                refund_fen=req.refund_fen,
                total_fen=req.total_fen,
            )
            self.on_notification("refund", headers, body)
        return self._refund_result(record)

    def _refund_result(self, record: Mapping[str, Any]) -> RefundResult:
        return RefundResult(
            out_refund_no=record["out_refund_no"],
            refund_id=record["refund_id"],
            status=record["status"],
            refund_fen=int(record["amount"]["refund"]),
            success_time=datetime.fromisoformat(record["success_time"]),
            raw=dict(record),
        )

    def query_refund(self, out_refund_no: str) -> RefundResult:
        record = self.store.get(f"refund:{out_refund_no}")
        if record is None:
            raise ProviderError("RESOURCE_NOT_EXISTS", "refund does not exist", status=404)
        return self._refund_result(record)

    def parse_payment_notification(
        self, headers: Mapping[str, str], body: bytes
    ) -> PaymentNotification:
        return self.notifications.parse_payment(headers, body)

    def parse_refund_notification(
        self, headers: Mapping[str, str], body: bytes
    ) -> RefundNotification:
        return self.notifications.parse_refund(headers, body)


@lru_cache(maxsize=4)
def _provider_for_dir(directory: str) -> SandboxProvider:
    return SandboxProvider(private_key_pem=load_or_create_key(Path(directory)))


def build_payment_notification(
    out_trade_no: str, amount_fen: int, **kwargs: Any
) -> tuple[dict[str, str], bytes]:
    """A signed payment notification from the installation's sandbox provider."""
    return SandboxProvider.from_settings().build_payment_notification(
        out_trade_no, amount_fen, **kwargs
    )


def build_refund_notification(**kwargs: Any) -> tuple[dict[str, str], bytes]:
    """A signed refund notification from the installation's sandbox provider."""
    return SandboxProvider.from_settings().build_refund_notification(**kwargs)

"""The payment provider interface: what the orders services may ask of a provider.

Amounts cross this boundary as integer fen, the unit WeChat Pay speaks; the
orders services convert with tuangou.money.to_fen/from_fen. Times are aware.

Providers are pure I/O adapters: they never touch the database. Recording each
attempt and its outcome, and making a notification idempotent, is the orders
services' job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

Channel = Literal["jsapi", "h5", "sandbox"]
CHANNELS: frozenset[str] = frozenset({"jsapi", "h5", "sandbox"})

# A notification whose timestamp is further than this from now is refused.
NOTIFICATION_WINDOW_SECONDS = 5 * 60


class TradeState:
    """WeChat Pay trade_state values (the sandbox uses the same)."""

    SUCCESS = "SUCCESS"  # paid
    REFUND = "REFUND"  # paid, then (partly) refunded
    NOTPAY = "NOTPAY"  # not paid yet
    CLOSED = "CLOSED"  # closed by the merchant before payment
    REVOKED = "REVOKED"  # cancelled (payment-code payments only)
    USERPAYING = "USERPAYING"  # the payer is entering a password
    PAYERROR = "PAYERROR"  # payment failed at the bank

    PAID = frozenset({SUCCESS, REFUND})


class RefundStatus:
    """WeChat Pay refund status values."""

    SUCCESS = "SUCCESS"  # money returned
    PROCESSING = "PROCESSING"  # accepted, a notification follows
    CLOSED = "CLOSED"  # closed, no money moved
    ABNORMAL = "ABNORMAL"  # failed (e.g. the payer's card is closed): needs an operator


# --- errors -----------------------------------------------------------------


class PaymentError(Exception):
    """Base class of every error a provider raises."""


class SignatureInvalid(PaymentError):
    """A notification or response whose signature (or serial) does not verify.

    Never act on such a message; log it for reconciliation.
    """


class NotificationReplayed(PaymentError):
    """An authentic message whose timestamp is outside the 5-minute window."""


class MalformedNotification(PaymentError, ValueError):
    """An authentic message we cannot use: wrong kind, undecryptable, another merchant's."""


class ProviderError(PaymentError):
    """The provider refused a request or could not be reached.

    `code` is the provider's error code (WeChat's "ORDER_NOT_EXIST", …) or
    one of ours ("NETWORK_ERROR", "BAD_RESPONSE"). `retryable` says whether
    trying the same request again later (same out_trade_no / out_refund_no)
    may succeed.
    """

    def __init__(
        self,
        code: str,
        message: str = "",
        *,
        status: int | None = None,
        retryable: bool = False,
        detail: Any = None,
    ):
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.status = status
        self.retryable = retryable
        self.detail = detail


# --- requests and results ---------------------------------------------------


@dataclass(frozen=True)
class PrepayRequest:
    out_trade_no: str
    description: str
    amount_fen: int
    payer_openid: str | None
    client_ip: str
    notify_url: str
    channel: Channel
    expires_at: datetime

    def __post_init__(self):
        if not isinstance(self.amount_fen, int) or isinstance(self.amount_fen, bool):
            raise TypeError("amount_fen must be an int")
        if self.amount_fen <= 0:
            raise ValueError("amount_fen must be positive")
        if self.channel not in CHANNELS:
            raise ValueError(f"unknown channel {self.channel!r}")
        if self.channel == "jsapi" and not self.payer_openid:
            raise ValueError("a JSAPI payment needs the payer's openid")
        if self.expires_at.tzinfo is None or self.expires_at.utcoffset() is None:
            raise ValueError("expires_at must be aware")


@dataclass(frozen=True)
class PrepayResult:
    """What the pay page needs to start the payment, one of three shapes.

    - jsapi: `jsapi_params` for WeixinJSBridge.invoke("getBrandWCPayRequest", …)
      (appId, timeStamp, nonceStr, package, signType, paySign), already signed.
    - h5: `h5_url`, the page to send the browser to (append `&redirect_url=`
      quoted to come back).
    - sandbox: `sandbox_url`, our own 模拟支付 page.
    """

    channel: Channel
    out_trade_no: str
    prepay_id: str = ""
    jsapi_params: Mapping[str, str] | None = None
    h5_url: str | None = None
    sandbox_url: str | None = None


@dataclass(frozen=True)
class PaymentNotification:
    out_trade_no: str
    transaction_id: str
    trade_state: str
    amount_fen: int  # the order total the payment was for
    payer_total_fen: int  # what the payer actually paid (after WeChat-side coupons)
    success_time: datetime | None
    raw: Mapping[str, Any] = field(repr=False)  # the decrypted resource
    event_type: str = ""  # "TRANSACTION.SUCCESS"
    notification_id: str = ""  # WeChat's id of this notification
    payer_openid: str = ""

    @property
    def is_paid(self) -> bool:
        return self.trade_state == TradeState.SUCCESS


@dataclass(frozen=True)
class RefundRequest:
    out_trade_no: str
    out_refund_no: str
    refund_fen: int
    total_fen: int
    reason: str
    notify_url: str

    def __post_init__(self):
        for name in ("refund_fen", "total_fen"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name} must be an int")
        if not 0 < self.refund_fen <= self.total_fen:
            raise ValueError("refund_fen must be positive and at most total_fen")


@dataclass(frozen=True)
class RefundResult:
    out_refund_no: str
    refund_id: str
    status: str  # RefundStatus
    refund_fen: int
    success_time: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_success(self) -> bool:
        return self.status == RefundStatus.SUCCESS


@dataclass(frozen=True)
class RefundNotification:
    out_trade_no: str
    out_refund_no: str
    refund_id: str
    transaction_id: str
    refund_status: str  # RefundStatus
    refund_fen: int
    total_fen: int
    success_time: datetime | None
    raw: Mapping[str, Any] = field(repr=False)
    event_type: str = ""  # "REFUND.SUCCESS" | "REFUND.ABNORMAL" | "REFUND.CLOSED"
    notification_id: str = ""

    @property
    def is_success(self) -> bool:
        return self.refund_status == RefundStatus.SUCCESS


@dataclass(frozen=True)
class QueryResult:
    out_trade_no: str
    trade_state: str  # TradeState
    transaction_id: str = ""
    amount_fen: int = 0
    payer_total_fen: int = 0
    success_time: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_paid(self) -> bool:
        return self.trade_state in TradeState.PAID


# --- the interface ----------------------------------------------------------


@runtime_checkable
class PaymentProvider(Protocol):
    """One payment provider. Every method may raise ProviderError."""

    name: str

    def create_prepay(self, req: PrepayRequest) -> PrepayResult: ...

    def query_order(self, out_trade_no: str) -> QueryResult: ...

    def close_order(self, out_trade_no: str) -> None: ...

    def refund(self, req: RefundRequest) -> RefundResult: ...

    def query_refund(self, out_refund_no: str) -> RefundResult: ...

    def parse_payment_notification(
        self, headers: Mapping[str, str], body: bytes
    ) -> PaymentNotification:
        """Verify the signature on the raw body, check the timestamp, decrypt.

        Raises SignatureInvalid, NotificationReplayed, or MalformedNotification
        (a well-signed message that is not a usable payment notification).
        """
        ...

    def parse_refund_notification(
        self, headers: Mapping[str, str], body: bytes
    ) -> RefundNotification: ...


def get_payment_provider() -> PaymentProvider:
    """The provider named by settings.PAYMENT_PROVIDER ("wechatpay" or "sandbox").

    Built once per configuration and reused: loading RSA keys is not free.
    """
    from django.conf import settings

    name = settings.PAYMENT_PROVIDER
    if name == "wechatpay":
        from .wechatpay import WechatPayProvider

        return WechatPayProvider.from_settings()
    if name == "sandbox":
        from .sandbox import SandboxProvider

        return SandboxProvider.from_settings()
    raise ValueError(f"unknown PAYMENT_PROVIDER {name!r}")

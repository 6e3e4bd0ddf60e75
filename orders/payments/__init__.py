"""Payment providers behind one interface (see base.py): WeChat Pay v3 and a sandbox."""

from .base import (
    CHANNELS,
    MalformedNotification,
    NotificationReplayed,
    PaymentError,
    PaymentNotification,
    PaymentProvider,
    PrepayRequest,
    PrepayResult,
    ProviderError,
    QueryResult,
    RefundNotification,
    RefundRequest,
    RefundResult,
    RefundStatus,
    SignatureInvalid,
    TradeState,
    get_payment_provider,
)
from .wechatpay import out_refund_no_for

__all__ = [
    "CHANNELS",
    "MalformedNotification",
    "NotificationReplayed",
    "PaymentError",
    "PaymentNotification",
    "PaymentProvider",
    "PrepayRequest",
    "PrepayResult",
    "ProviderError",
    "QueryResult",
    "RefundNotification",
    "RefundRequest",
    "RefundResult",
    "RefundStatus",
    "SignatureInvalid",
    "TradeState",
    "get_payment_provider",
    "out_refund_no_for",
]

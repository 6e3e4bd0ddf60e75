"""Payout providers: how approved withdrawals become money in a leader's hands.

One interface, `PayoutProvider.submit(batch=, withdrawals=) -> PayoutResult`:

- BankFileProvider (the default, name "bank_csv"): nothing leaves by itself;
  finance downloads the batch's CSV (bank_csv()), uploads it to the bank, and
  marks each withdrawal paid with the bank's reference.
- WechatTransferProvider (name "wechat"): WeChat Pay's 商家转账到零钱 v3 API,
  one transfer batch to the leaders' openids, signed with the merchant key
  (SHA256-RSA, the same Authorization scheme as WeChat Pay v3). WeChat
  accepts the batch and pays asynchronously: the withdrawals stay approved
  (in the batch) until finance marks them paid with WeChat's detail id.

settings.PAYOUT_PROVIDER picks the default ("bank_csv" unless set).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Protocol

from django.conf import settings

from tuangou.money import to_fen

from .models import PayoutBatch, Withdrawal


@dataclass
class PayoutResult:
    reference: str = ""  # the provider's id of the batch
    paid: dict = field(default_factory=dict)  # withdrawal -> transfer reference, when known at once


class PayoutError(Exception):
    pass


class PayoutProvider(Protocol):
    name: str

    def submit(self, *, batch: PayoutBatch, withdrawals: list[Withdrawal]) -> PayoutResult: ...


CSV_HEADER = [
    "批次号 batch",
    "提现单号 withdrawal",
    "收款户名 account holder",
    "开户行 bank",
    "账号 account number",
    "金额 amount (CNY)",
    "用途 purpose",
]


def bank_csv(*, batch: PayoutBatch) -> str:
    """The bank file of a batch: one row per withdrawal, UTF-8 with a BOM
    (banks' portals and Excel read Chinese names right with it)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for w in batch.withdrawals.order_by("pk"):
        writer.writerow(
            [
                batch.number,
                w.number,
                w.account_name,
                w.bank_name,
                w.account_number,
                f"{w.amount:.2f}",
                "团长佣金提现",
            ]
        )
    return out.getvalue()


class BankFileProvider:
    name = "bank_csv"

    def submit(self, *, batch: PayoutBatch, withdrawals: list[Withdrawal]) -> PayoutResult:
        return PayoutResult(reference=batch.number)


class WechatTransferProvider:
    """商家转账到零钱 (v3 /v3/transfer/batches). `session` is any object with
    requests' `post`; `private_key` a cryptography RSA private key."""

    name = "wechat"
    path = "/v3/transfer/batches"

    def __init__(
        self, *, mchid: str, appid: str, serial_no: str, private_key, base_url: str, session=None
    ):
        import requests

        self.mchid, self.appid, self.serial_no = mchid, appid, serial_no
        self.private_key = private_key
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()

    def body(self, *, batch: PayoutBatch, withdrawals: list[Withdrawal]) -> dict:
        return {
            "appid": self.appid,
            "out_batch_no": batch.number,
            "batch_name": "团长佣金",
            "batch_remark": f"团长佣金提现 {batch.number}",
            "total_amount": sum(to_fen(w.amount) for w in withdrawals),
            "total_num": len(withdrawals),
            "transfer_detail_list": [
                {
                    "out_detail_no": w.number,
                    "transfer_amount": to_fen(w.amount),
                    "transfer_remark": "团长佣金",
                    "openid": w.openid,
                }
                for w in withdrawals
            ],
        }

    def authorization(self, *, method: str, path: str, body: str) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        nonce = secrets.token_hex(16)
        timestamp = str(int(time.time()))
        message = f"{method}\n{path}\n{timestamp}\n{nonce}\n{body}\n".encode()
        signature = base64.b64encode(
            self.private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        ).decode()
        return (
            f'WECHATPAY2-SHA256-RSA2048 mchid="{self.mchid}",nonce_str="{nonce}",'
            f'signature="{signature}",timestamp="{timestamp}",serial_no="{self.serial_no}"'
        )

    def submit(self, *, batch: PayoutBatch, withdrawals: list[Withdrawal]) -> PayoutResult:
        if any(not w.openid for w in withdrawals):
            raise PayoutError("a WeChat transfer needs every leader's openid")
        body = json.dumps(self.body(batch=batch, withdrawals=withdrawals), ensure_ascii=False)
        response = self.session.post(
            self.base_url + self.path,
            data=body.encode(),
            headers={
                "Authorization": self.authorization(method="POST", path=self.path, body=body),
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
            timeout=10,
        )
        if response.status_code >= 300:
            raise PayoutError(
                f"WeChat refused the batch: {response.status_code} {response.text[:200]}"
            )
        return PayoutResult(reference=response.json().get("batch_id", ""))


def get_payout_provider(name: str | None = None) -> PayoutProvider:
    name = name or getattr(settings, "PAYOUT_PROVIDER", "bank_csv")
    if name == "bank_csv":
        return BankFileProvider()
    if name == "wechat":
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        with open(settings.WECHATPAY_PRIVATE_KEY_PATH, "rb") as fh:
            key = load_pem_private_key(fh.read(), password=None)
        return WechatTransferProvider(
            mchid=settings.WECHATPAY_MCH_ID,
            appid=settings.WECHATPAY_APP_ID,
            serial_no=settings.WECHATPAY_CERT_SERIAL,
            private_key=key,
            base_url=settings.WECHATPAY_BASE_URL,
        )
    raise ValueError(f"unknown payout provider {name!r}")

"""Payout providers: how approved withdrawals become money in a leader's hands.

One interface, `PayoutProvider.submit(batch=, withdrawals=) -> PayoutResult`,
called by `services.send_payout_batch` from its own Celery task
(`send_payout_batch_task`), once per batch, retried with the same batch
number:

- BankFileProvider (the default, name "bank_csv"): nothing leaves by itself;
  finance downloads the batch's CSV (bank_csv()), uploads it to the bank, and
  marks each withdrawal paid with the bank's reference.
- WechatTransferProvider (name "wechat"): WeChat Pay's 商家转账到零钱 v3 API,
  one transfer batch to the leaders' openids. Requests are signed with the
  merchant key and answers verified against the platform key
  (tuangou.wechatpay_v3, the same code as payments): a forged "accepted" is
  never believed. The batch number is WeChat's out_batch_no, its idempotency
  key: WeChat treats a repeated out_batch_no as the same batch, so a retry
  after a timeout can never pay twice. WeChat accepts the batch and pays
  asynchronously: the withdrawals stay approved (in the batch) until
  `query()` (GET /v3/transfer/batches/out-batch-no/{batch number}, the same
  signing and verification) reports the batch finished or closed, and
  services.check_payout_batch settles it: each transfer that arrived marks
  its withdrawal paid with WeChat's detail id, each that failed gives its
  withdrawal back to finance (approved, out of the batch).

settings.PAYOUT_PROVIDER picks the default ("bank_csv" unless set).
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import requests
from django.conf import settings

from tuangou import wechatpay_v3 as v3
from tuangou.money import to_fen

from .models import PayoutBatch, Withdrawal

# WeChat's error codes after which the same batch may be accepted later.
RETRYABLE_CODES = frozenset({"SYSTEM_ERROR", "SYSTEMERROR", "FREQUENCY_LIMITED"})


@dataclass
class PayoutResult:
    reference: str = ""  # the provider's id of the batch
    paid: dict = field(default_factory=dict)  # withdrawal -> transfer reference, when known at once


@dataclass
class BatchAnswer:
    """What the provider says about a batch it accepted, when asked.

    `state`: "paying" (not finished: nothing to settle yet), "finished"
    (every transfer done, each in `paid` or `failed`) or "closed" (the
    provider gave the whole batch up: nothing was paid by it).
    """

    state: str
    paid: dict[str, str] = field(default_factory=dict)  # withdrawal number -> transfer id
    failed: dict[str, str] = field(default_factory=dict)  # withdrawal number -> why
    reason: str = ""  # why a batch was closed


class PayoutError(Exception):
    """The provider refused the batch or could not be reached.

    `retryable`: sending the same batch (same number) again later may
    succeed, and can never pay twice. Otherwise the provider refused it for
    good and no money moved.
    """

    def __init__(self, code: str, message: str = "", *, retryable: bool = False):
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.retryable = retryable


class PayoutProvider(Protocol):
    name: str

    def submit(self, *, batch: PayoutBatch, withdrawals: list[Withdrawal]) -> PayoutResult: ...

    # Providers that pay by themselves (WeChat) also answer
    # `query(*, batch: PayoutBatch) -> BatchAnswer`; a bank file has no one to ask.


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
    """商家转账到零钱 (v3 POST /v3/transfer/batches). `private_key` is the
    merchant's RSA private key; `platform_keys` maps each trusted platform
    serial (certificate serial or "PUB_KEY_ID_…") to its public key."""

    name = "wechat"
    path = "/v3/transfer/batches"

    def __init__(
        self,
        *,
        mchid: str,
        appid: str,
        serial_no: str,
        private_key,
        platform_keys: Mapping[str, object],
        base_url: str,
        clock: Callable[[], float] = time.time,
        timeout: tuple[float, float] = (5.0, 15.0),
    ):
        self.mchid, self.appid, self.serial_no = mchid, appid, serial_no
        self.private_key = private_key
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self.timeout = timeout
        self.verifier = v3.SignatureVerifier(platform_keys, clock=clock)

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

    def submit(self, *, batch: PayoutBatch, withdrawals: list[Withdrawal]) -> PayoutResult:
        if any(not w.openid for w in withdrawals):
            raise PayoutError("NO_OPENID", "a WeChat transfer needs every leader's openid")
        body = json.dumps(
            self.body(batch=batch, withdrawals=withdrawals),
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode("utf-8")
        answer = self._call("POST", self.path, body)
        try:
            batch_id = str(answer["batch_id"])
        except (KeyError, TypeError) as exc:
            raise PayoutError("BAD_RESPONSE", str(exc), retryable=True) from exc
        return PayoutResult(reference=batch_id)

    # WeChat's batch states: WAIT_PAY / ACCEPTED / PROCESSING (paying),
    # FINISHED (each transfer SUCCESS or FAIL), CLOSED (nothing paid).
    PAYING = frozenset({"WAIT_PAY", "ACCEPTED", "PROCESSING"})
    PAGE = 100  # WeChat's most details per answer

    def query(self, *, batch: PayoutBatch) -> BatchAnswer:
        """商家批次单号查询: the batch's state and each transfer's, page by page.

        Every page is a verified answer; a forged or unreadable one raises a
        retryable PayoutError and settles nothing."""
        offset, details, head = 0, [], {}
        while True:
            path = (
                f"{self.path}/out-batch-no/{batch.number}"
                f"?need_query_detail=true&offset={offset}&limit={self.PAGE}&detail_status=ALL"
            )
            answer = self._call("GET", path, b"")
            try:
                head = answer["transfer_batch"]
                page = answer.get("transfer_detail_list") or []
                state = str(head["batch_status"])
                total = int(head.get("total_num") or 0)
                details += [
                    (str(d["out_detail_no"]), str(d.get("detail_id", "")), str(d["detail_status"]))
                    for d in page
                ]
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise PayoutError("BAD_RESPONSE", repr(exc), retryable=True) from exc
            if state != "FINISHED" or not page or len(details) >= total:
                break
            offset += len(page)
        if state in self.PAYING:
            return BatchAnswer(state="paying")
        if state == "CLOSED":
            return BatchAnswer(state="closed", reason=str(head.get("close_reason") or "CLOSED"))
        if state != "FINISHED":
            raise PayoutError("BAD_RESPONSE", f"unknown batch_status {state!r}", retryable=True)
        result = BatchAnswer(state="finished")
        for number, detail_id, status in details:
            if status == "SUCCESS":
                result.paid[number] = detail_id or number
            elif status == "FAIL":
                result.failed[number] = "FAIL"
            else:  # a transfer still on its way: ask again later
                return BatchAnswer(state="paying")
        return result

    def _call(self, method: str, path: str, body: bytes) -> dict:
        """One signed request; the answer's signature verified, its JSON returned."""
        headers = {
            "Authorization": v3.build_authorization(
                method=method,
                url_path=path,
                body=body,
                mch_id=self.mchid,
                serial_no=self.serial_no,
                private_key=self.private_key,
                timestamp=int(self.clock()),
            ),
            "Accept": "application/json",
        }
        if method == "POST":
            headers["Content-Type"] = "application/json"
        try:
            response = requests.request(
                method,
                self.base_url + path,
                data=body or None,
                headers=headers,
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            # Sent or not, we cannot tell: the same out_batch_no again is safe.
            raise PayoutError("NETWORK_ERROR", str(exc), retryable=True) from exc
        if response.status_code >= 300:
            try:
                error = response.json()
                code, message = str(error["code"]), str(error.get("message", ""))
            except (ValueError, KeyError, TypeError):
                code, message = f"HTTP_{response.status_code}", response.text[:200]
            raise PayoutError(
                code,
                message,
                retryable=response.status_code >= 500 or code in RETRYABLE_CODES,
            )
        try:
            self.verifier.verify(response.headers, response.content)
        except (v3.BadSignature, v3.StaleSignature) as exc:
            # Not WeChat's word: whether the batch was accepted is unknown,
            # and asking again with the same number is safe.
            raise PayoutError("BAD_RESPONSE_SIGNATURE", str(exc), retryable=True) from exc
        try:
            answer = json.loads(response.content)
        except ValueError as exc:
            raise PayoutError("BAD_RESPONSE", str(exc), retryable=True) from exc
        if not isinstance(answer, dict):
            raise PayoutError("BAD_RESPONSE", "not a JSON object", retryable=True)
        return answer


def get_payout_provider(name: str | None = None) -> PayoutProvider:
    name = name or getattr(settings, "PAYOUT_PROVIDER", "bank_csv")
    if name == "bank_csv":
        return BankFileProvider()
    if name == "wechat":
        from pathlib import Path

        key = v3.load_private_key(Path(settings.WECHATPAY_PRIVATE_KEY_PATH).read_bytes())
        platform_key, cert_serial = v3.load_platform_key(
            Path(settings.WECHATPAY_PLATFORM_CERT_PATH).read_bytes()
        )
        serial = getattr(settings, "WECHATPAY_PLATFORM_SERIAL", "") or cert_serial
        if not serial:
            raise ValueError("a bare platform public key needs WECHATPAY_PLATFORM_SERIAL")
        return WechatTransferProvider(
            mchid=settings.WECHATPAY_MCH_ID,
            appid=settings.WECHATPAY_APP_ID,
            serial_no=settings.WECHATPAY_CERT_SERIAL,
            private_key=key,
            platform_keys={serial: platform_key},
            base_url=settings.WECHATPAY_BASE_URL,
        )
    raise ValueError(f"unknown payout provider {name!r}")

"""Pinyin keys of product names, for search (pure: no database).

Shoppers type pinyin (pingguo), initials (pg) or a homophone typo (苹裹 for
苹果) as often as the right characters. A product's name is indexed on save
(catalog.services.save_product) as its full pinyin ("hongfushipingguo") and
its initials ("hfspg"); a query is turned into the same keys and compared
with them (catalog.selectors.search_products).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pypinyin import Style, lazy_pinyin

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_NOT_KEY = re.compile(r"[^0-9a-z]+")
# Pinyin (and initials) are compared only from two letters on: one letter
# matches nearly every product.
MIN_KEY_LENGTH = 2


def _key(parts: list[str]) -> str:
    return _NOT_KEY.sub("", "".join(parts).lower())


def full_pinyin(text: str) -> str:
    """ "红富士苹果" -> "hongfushipingguo"; letters and digits are kept as they are."""
    return _key(lazy_pinyin(text or ""))


def initials(text: str) -> str:
    """ "红富士苹果" -> "hfspg"; a run of letters or digits ("A4") is kept whole."""
    return _key(lazy_pinyin(text or "", style=Style.FIRST_LETTER))


def has_han(text: str) -> bool:
    return bool(_HAN.search(text or ""))


@dataclass(frozen=True)
class QueryKeys:
    """How one word of a query is compared with the pinyin index."""

    pinyin: str  # compared with the names' full pinyin ("" = not at all)
    initials: str  # compared with the names' initials ("" = not at all)


def query_keys(word: str) -> QueryKeys:
    """苹裹 -> pinyin "pingguo"; "PingGuo" -> pinyin "pingguo" and initials "pingguo";
    "pg" -> initials "pg".

    A Chinese word is compared by sound from two characters on (one character
    would find every homophone: 瓜 and 挂面). Letters are compared both as
    pinyin and as initials.
    """
    if has_han(word):
        han_count = len(_HAN.findall(word))
        return QueryKeys(pinyin=full_pinyin(word) if han_count >= 2 else "", initials="")
    key = _key([word])
    if len(key) < MIN_KEY_LENGTH or not key.isascii() or key.isdigit():
        return QueryKeys(pinyin="", initials="")
    return QueryKeys(pinyin=key, initials=key if key.isalpha() else "")

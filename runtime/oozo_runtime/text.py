"""Words of a text, for lexical matching (re-ranking, extractive answers)."""

from __future__ import annotations

import re

_WORD = re.compile(r"[\w'-]+", re.UNICODE)
STOPWORDS = frozenset(
    """a an and are as at be by can do does did for from has have how i in is it its me my of on or
    our that the their there this to was we were what when where which who whom why will with you
    your about into than then them they he she his her not no yes any all""".split()  # noqa: SIM905
)


def terms(text: str) -> set[str]:
    return {
        w for w in (m.group(0).lower().strip("'-") for m in _WORD.finditer(text)) if w and w not in STOPWORDS
    }

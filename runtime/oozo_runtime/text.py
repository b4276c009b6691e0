"""Words of a text, for lexical matching (the BM25 index, extractive answers), in any language.

- Unicode throughout: NFKC (full-width forms, ligatures, the Greek question mark) and casefold
  (German ß = ss, Greek final sigma = sigma), words are runs of letters, digits and marks.
- Scripts written without spaces (Chinese, Japanese kana and kanji) have no words to split on, so
  each run of them yields its overlapping character bigrams (the usual CJK indexing unit), or the
  single character of a run of one.
- Stop words are those of the text's own language only: the language whose stop-word list
  (the `stop-words` package; Oozo's own short list for English) covers most of the text's words;
  when lists tie (German and Dutch share "was", "die"), only words that all of them list. An
  English list is never applied to Russian or German text, and a text in a language without a
  list keeps all its words: BM25's IDF discounts frequent words anyway.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter

# Letters, digits and combining marks (Devanagari, Thai and Arabic words need their marks), with
# inner apostrophes and hyphens ("don't", "e-mail", "l'homme").
_MARKS = "\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0900-\u0dff\u0e00-\u0e7f"
_WORD = re.compile(rf"[^\W_](?:[\w{_MARKS}'\u2019-]*(?:[^\W_]|[{_MARKS}]))?")
# Han ideographs, Hiragana, Katakana (incl. the prolonged sound mark): written without spaces.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'", "\u2018": "'"})  # typographic ones

# Oozo's English list (short on purpose: "first", "days" or "new" stay searchable).
ENGLISH = frozenset(
    """a an and are as at be by can do does did for from has have how i in is it its me my of on or
    our that the their there this to was we were what when where which who whom why will with you
    your about into than then them they he she his her not no yes any all""".split()  # noqa: SIM905
)
STOPWORDS = ENGLISH  # the name earlier code imported
# Languages of the `stop-words` package used when their list fits the text best (ISO 639-1).
_OTHER_LANGUAGES = "ar bg ca cs da de el es fa fi fr he hi hu id it nl no pl pt ro ru sk sv tr uk vi".split()  # noqa: SIM905


@functools.cache
def _stopword_languages() -> dict[str, frozenset[str]]:
    """word → the languages whose stop-word list holds it (loaded once, lazily)."""
    lists: dict[str, set[str]] = {"en": set(ENGLISH)}
    try:
        from stop_words import get_stop_words
    except ImportError:  # without the package only English has a list: other languages keep all words
        get_stop_words = None
    for language in _OTHER_LANGUAGES if get_stop_words else ():
        try:
            words = get_stop_words(language)
        except Exception:  # a language the installed version lacks
            continue
        lists[language] = {normalize(w) for w in words}
    by_word: dict[str, set[str]] = {}
    for language, words in lists.items():
        for word in words:
            by_word.setdefault(word, set()).add(language)
    return {word: frozenset(languages) for word, languages in by_word.items()}


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).casefold()


def words(text: str) -> list[str]:
    """The words of `text` in order, normalised; runs of CJK characters as bigrams."""
    out: list[str] = []
    for match in _WORD.finditer(normalize(text)):
        word = match.group(0)
        if not _CJK.search(word):
            out.append(word)
            _head, apostrophe, tail = word.rpartition("'")
            if apostrophe and len(tail) >= 3:  # elision: l'homme, dell'acqua, o'clock
                out.append(tail)
            continue
        start = 0
        for run in _CJK.finditer(word):  # letters of other scripts around a CJK run stay words
            if run.start() > start:
                out.append(word[start : run.start()])
            chars = run.group(0)
            out.extend(chars if len(chars) == 1 else (chars[i : i + 2] for i in range(len(chars) - 1)))
            start = run.end()
        if start < len(word):
            out.append(word[start:])
    return out


def languages_of(tokens: list[str]) -> frozenset[str]:
    """The languages whose stop-word lists cover most of the tokens (several when they tie, as
    German and Dutch do on "was die"); empty when no list covers any."""
    by_word = _stopword_languages()
    votes: Counter[str] = Counter()
    for token in tokens:
        votes.update(by_word.get(token, ()))
    if not votes:
        return frozenset()
    best = max(votes.values())
    return frozenset(language for language, count in votes.items() if count == best)


def content_words(text: str) -> list[str]:
    """The content words of `text` in order, repeats kept (BM25 counts them): its words minus
    those that are stop words in its language; when several languages tie, only words that are
    stop words in all of them."""
    tokens = words(text)
    leaders = languages_of(tokens)
    if not leaders:
        return tokens
    by_word = _stopword_languages()
    return [t for t in tokens if not leaders <= by_word.get(t, frozenset())]


def terms(text: str) -> set[str]:
    """The distinct content words of `text`."""
    return set(content_words(text))

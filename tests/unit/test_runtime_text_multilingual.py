# ruff: noqa: RUF001  (Cyrillic and Greek letters on purpose)
"""Lexical matching and extractive answers in any language: Unicode words, stop words of the
text's own language only, CJK bigrams, sentence ends of every script."""

from __future__ import annotations

import pytest

from oozo_runtime.answers import best_sentences, extractive_answer, split_sentences
from oozo_runtime.retrieval import Hit
from oozo_runtime.text import languages_of, terms, words


def test_english_keeps_its_stop_words() -> None:
    assert terms("How many days of paid leave do employees get?") == {
        "many",
        "days",
        "paid",
        "leave",
        "employees",
        "get",
    }


def test_english_stop_words_are_not_applied_to_other_languages() -> None:
    # "was" is German for "what", "die" is an article: German's list decides, not English's
    assert terms("Was kostet die Reparatur?") == {"kostet", "reparatur"}
    # Russian "и", "где" and "когда" are Russian stop words; no English list touches Cyrillic
    assert terms("Когда и где чистят кофемашину?") == {"чистят", "кофемашину"}
    assert languages_of(words("Когда и где чистят кофемашину?")) == {"ru"}
    assert languages_of(words("Wer genehmigt die Urlaubsanträge in der Firma?")) == {"de"}


def test_a_text_whose_language_has_no_list_keeps_every_word() -> None:
    assert terms("Ninakwenda sokoni kesho") == {"ninakwenda", "sokoni", "kesho"}


def test_words_are_unicode_casefolded_and_normalised() -> None:
    assert words("STRASSE Straße") == ["strasse", "strasse"]
    assert words("ΣΤΆΘΜΕΥΣΗ στάθμευση") == words("στάθμευση στάθμευση")  # final sigma
    assert words("ＡＢＣ１２３") == ["abc123"]  # full-width forms (NFKC)
    assert "homme" in words("l’homme")  # typographic apostrophe, French elision
    assert words("हिन्दी भाषा") == ["हिन्दी", "भाषा"]  # combining vowel signs stay in the word


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("数据库备份", ["数据", "据库", "库备", "备份"]),
        ("東京の天気", ["東京", "京の", "の天", "天気"]),
        ("Oozo 的", ["oozo", "的"]),
    ],
)
def test_text_without_spaces_yields_character_bigrams(text: str, expected: list[str]) -> None:
    assert words(text) == expected


def test_a_chinese_question_matches_its_passage_lexically() -> None:
    question = "数据库什么时候备份？"
    assert terms(question) & terms("数据库每天晚上两点备份到异地存储。") >= {"数据", "据库", "备份"}
    assert not terms(question) & terms("停车位需要提前一天预订。")


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("Das gilt z. B. für Urlaub. Danach mehr!", ["Das gilt z. B. für Urlaub.", "Danach mehr!"]),
        ("Это т. е. пример. Второе предложение?", ["Это т. е. пример.", "Второе предложение?"]),
        ("Πού είναι; Εδώ είναι.", ["Πού είναι;", "Εδώ είναι."]),
        ("東京は晴れです。明日は雨！本当？", ["東京は晴れです。", "明日は雨！", "本当？"]),
        ("यह पहला है। यह दूसरा है।", ["यह पहला है।", "यह दूसरा है।"]),
        ('He said "Go." Then left.', ['He said "Go."', "Then left."]),
        ("Version 3.5 is out. Next", ["Version 3.5 is out.", "Next"]),
    ],
)
def test_sentences_end_the_way_each_script_ends_them(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


def test_the_extractive_answer_picks_the_right_sentence_in_russian_german_greek_and_japanese() -> None:
    cases = {
        "Когда чистят кофемашину?": (
            "Офис открыт с девяти. Кофемашину чистят каждую пятницу. Зёрна заказывает менеджер.",
            "Кофемашину чистят каждую пятницу.",
        ),
        "Wer genehmigt den Urlaub?": (
            "Das Büro öffnet um neun. Den Urlaub genehmigt die Teamleitung. Mehr im Portal.",
            "Den Urlaub genehmigt die Teamleitung.",
        ),
        "Πώς κλείνω θέση στάθμευσης;": (
            "Το γραφείο ανοίγει στις εννέα. Η θέση στάθμευσης κλείνεται μέσω της εφαρμογής.",
            "Η θέση στάθμευσης κλείνεται μέσω της εφαρμογής.",
        ),
        "会議室の予約方法は？": (
            "オフィスは九時に開きます。会議室の予約はポータルで行います。コーヒーは無料です。",
            "会議室の予約はポータルで行います。",
        ),
    }
    for question, (text, expected) in cases.items():
        assert best_sentences(question, text, limit=1) == [expected], question
        answer = extractive_answer(question, [Hit("doc.md", 0, 0.9, text, None)])
        assert expected in answer

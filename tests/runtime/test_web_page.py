# ruff: noqa: RUF001  (Russian text on purpose)
"""The page at `/` in a real browser: Debian's chromium (hack/tools/chromium.sh), driven by
Playwright's Python package through `executable_path`, against a real `oozo serve` on a real
index. The page asks, shows the answer, the sources with the question's words marked, the index
version and a curl line that, run for real, returns the same sources; source text that looks
like HTML stays text; nothing breaks the page's own Content-Security-Policy."""

from __future__ import annotations

import json
import os
import subprocess
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageStat

from tests.runtime.conftest import Built
from tests.runtime.corpus import heading, make_corpus, make_docx, para

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "web-key-5d1c9a7e3b"
VIEWPORT = {"width": 1024, "height": 900}
# Source text is whatever the documents held: this one would run script if the page used HTML.
HOSTILE = '<img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script>'
ZEPHYR = "zephyr.docx"
RUSSIAN = "ru/zefir.docx"


@pytest.fixture(scope="module")
def web_index(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Built:
    from oozo_contract.index_settings import IndexSettings
    from oozo_runtime.indexing.build import build

    root = tmp_path_factory.mktemp("web-corpus") / "docs"
    corpus = make_corpus(root, 4)
    make_docx(
        root / ZEPHYR,
        heading("Project Zephyr vault"),
        para(f"Project Zephyr keeps its papers in the vault. {HOSTILE} "),
        para("The launch code of Project Zephyr is 4471."),
    )
    make_docx(
        root / RUSSIAN,
        heading("Проект Зефир"),
        para("Бюджет проекта Зефир составляет 9120 евро. Решения о бюджете принимает финансовый комитет."),
    )
    index_dir = tmp_path_factory.mktemp("web-index")
    result = build(IndexSettings(source=str(root), index_dir=index_dir), embedder=embedder)
    return Built(corpus, index_dir, result)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # installs Debian's chromium when missing (`make tools` runs the same script) and prints its path
    chromium = subprocess.run(
        ["bash", str(ROOT / "hack/tools/chromium.sh")], check=True, capture_output=True, text=True
    ).stdout.strip()
    with sync_playwright() as playwright:
        # --no-sandbox: the tests run as root, where Chromium's sandbox refuses to start
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


def words(text: str) -> list[str]:
    """The words of a text folded like the page folds them (NFKC, lower case), Unicode letters
    and digits of any script."""
    folded = unicodedata.normalize("NFKC", text).lower()
    out, current = [], ""
    for char in folded:
        if unicodedata.category(char)[0] in "LMN":
            current += char
        elif current:
            out.append(current)
            current = ""
    return [*out, current] if current else out


def open_page(browser: Any, url: str) -> tuple[Any, list[str]]:
    """A fresh page at `url`, and the list its script errors and CSP violations land in (the
    console's other errors are failed loads: the 401 that tells the page a key is needed, the
    favicon's 404)."""
    page = browser.new_page(viewport=VIEWPORT)
    problems: list[str] = []

    def on_console(message: Any) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(url + "/")
    return page, problems


def ask(page: Any, question: str, top_k: int, mode: str = "") -> dict[str, Any]:
    """Types the question, submits, waits for the curl line (shown once the answer is in) and
    returns the JSON the page received."""
    page.fill("#question", question)
    page.fill("#topk", str(top_k))
    page.select_option("#mode", mode)
    with page.expect_response(lambda r: r.url.endswith("/api/query")) as response:
        page.click("#go")
    page.wait_for_selector("#curl-line", state="visible")
    answered: dict[str, Any] = response.value.json()
    return answered


def run_curl(line: str, env: dict[str, str]) -> dict[str, Any]:
    environment = {**os.environ, **env}
    done = subprocess.run(["bash", "-c", line], env=environment, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def sources_of(body: dict[str, Any]) -> list[tuple[str, int, str]]:
    return [(s["document"], s["chunk"], s["text"]) for s in body["sources"]]


def test_page_answers_with_marked_sources_version_and_a_curl_line_that_works(
    web_index: Built, serve: Any, browser: Any, tmp_path: Path
) -> None:
    server = serve(web_index.index_dir, {"OOZO_AUTH_ENABLED": "true", "OOZO_API_KEYS": API_KEY})
    server.wait_ready()
    page, problems = open_page(browser, server.url)
    page.wait_for_function("document.getElementById('info').textContent.includes('requires an API key')")

    page.fill("#key", API_KEY)
    page.press("#key", "Tab")  # the key's change event loads /api/info with it
    page.wait_for_selector("#version")
    assert page.inner_text("#version") == web_index.result.version

    question = "What is the launch code of Project Zephyr?"
    answered = ask(page, question, top_k=3)
    assert answered["sources"][0]["document"] == ZEPHYR
    assert "4471" in page.inner_text("#answer")
    headers = page.locator("#sources article.source header").all_inner_texts()
    assert len(headers) == 3 and headers[0].startswith(ZEPHYR)

    # every mark is a word of the question, and the question's distinctive words are marked
    marked = [words(m)[0] for m in page.locator("#sources mark").all_inner_texts()]
    assert set(marked) <= set(words(question))
    assert {"launch", "code", "project", "zephyr"} <= set(marked)

    # the hostile source is shown as its own text, and nothing of it became an element or ran
    assert HOSTILE in answered["sources"][0]["text"]
    assert HOSTILE in page.locator("#sources article.source p").first.text_content()
    assert page.locator("#sources img, #sources script").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert problems == []

    line = page.inner_text("#curl-line")
    assert "-H 'Content-Type: application/json'" in line
    assert '-H "Authorization: Bearer $OOZO_API_KEY"' in line and API_KEY not in line
    assert '"top_k":3' in line and f'"mode":"{answered["mode"]}"' in line
    assert sources_of(run_curl(line, {"OOZO_API_KEY": API_KEY})) == sources_of(answered)

    shot = tmp_path / "answered.png"
    page.screenshot(path=str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(shot) as image:
        assert image.format == "PNG" and image.size == (VIEWPORT["width"], VIEWPORT["height"])
        grey = image.convert("L")
        # a blank (or all-one-colour) capture has no variance; text, boxes and marks do
        assert ImageStat.Stat(grey).stddev[0] > 10
        assert len(grey.getcolors(maxcolors=256) or range(257)) > 16
        marks_visible = image.convert("RGB").getcolors(maxcolors=1 << 20) or []
        assert any(rgb == (0xFF, 0xE5, 0x8A) for _, rgb in marks_visible), "no highlight colour on screen"


def test_page_marks_words_of_any_script_and_its_curl_line_needs_no_key_when_the_server_needs_none(
    web_index: Built, serve: Any, browser: Any
) -> None:
    server = serve(web_index.index_dir)
    server.wait_ready()
    page, problems = open_page(browser, server.url)
    page.wait_for_selector("#version")
    assert page.inner_text("#version") == web_index.result.version

    question = "БЮДЖЕТ проекта Зефир?"  # upper case in the question, title and lower case in the text
    answered = ask(page, question, top_k=2, mode="lexical")
    assert answered["mode"] == "lexical" and answered["sources"][0]["document"] == RUSSIAN
    marked = page.locator("#sources article.source").first.locator("mark").all_inner_texts()
    assert {"Бюджет", "проекта", "Зефир"} <= set(marked)
    assert "бюджете" not in {m.lower() for m in marked}  # whole words only, not prefixes
    assert problems == []

    line = page.inner_text("#curl-line")
    assert "Authorization" not in line and '"mode":"lexical"' in line and '"top_k":2' in line
    assert sources_of(run_curl(line, {})) == sources_of(answered)

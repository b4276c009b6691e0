# ruff: noqa: RUF001  (the questions are Russian on purpose)
"""Real non-English text nobody on the project wrote, for the multilingual acceptance test and
benchmark: Debian's translated manual pages (`manpages-ru`), turned into plain text once.

    python -m devcluster.corpora          # `make corpora`: download, unpack, convert (cached)
    corpus = manpages_ru()                 # the folder of .txt pages (raises if not prepared)

The package is fetched with `apt-get download` (no root install: nothing lands in /usr) and
unpacked with `dpkg-deb -x` under ~/.cache/oozo/corpora. Pages are rendered by `man -l` when
man-db is there, otherwise by `strip_troff` (a small troff-to-text stripper: requests dropped,
font and escape sequences replaced; enough for NAME/DESCRIPTION prose). Pages whose text is
identical (symlinked aliases such as fs/filesystems) are kept once.

The questions were written for this corpus from the pages' NAME and DESCRIPTION lines,
paraphrased in Russian; each names the page(s) that answer it (aliases with the same subject:
ls/dir/vdir, utmp/wtmp).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

CACHE = Path(os.environ.get("OOZO_CORPORA_DIR", Path.home() / ".cache" / "oozo" / "corpora"))
PACKAGE = "manpages-ru"
SECTIONS = ("man1", "man5", "man8")
# The head of each page (NAME, SYNOPSIS, the start of DESCRIPTION), one 1000-character chunk: the
# 4-bit multilingual model embeds ~250 tokens/s on this 2-core machine, so the corpus costs a
# minute, not ten.
PAGE_CHARS = 1000


@dataclass(frozen=True)
class Question:
    text: str
    documents: frozenset[str]


def _q(text: str, *documents: str) -> Question:
    return Question(text, frozenset(f"{d}.txt" for d in documents))


QUESTIONS_RU = (
    _q("Как объединить несколько файлов и вывести их на стандартный вывод?", "cat.1"),
    _q("Какая команда показывает содержимое каталога?", "ls.1", "dir.1", "vdir.1"),
    _q("Как перекодировать текст из одной кодировки в другую?", "iconv.1"),
    _q("Как узнать, от каких разделяемых библиотек зависит программа?", "ldd.1"),
    _q("Как получить сведения о текущей локали?", "locale.1"),
    _q("Как скомпилировать файл определения локали?", "localedef.1"),
    _q("Как проверить, сколько памяти расходует программа?", "memusage.1"),
    _q("Чем разобрать журнал трассировки malloc?", "mtrace.1"),
    _q("Как получить записи из баз данных диспетчера службы имён?", "getent.1"),
    _q("В каком файле ведётся учёт процессов?", "acct.5"),
    _q("Что такое дамп памяти процесса и когда он создаётся?", "core.5"),
    _q("Как устроен формат исполняемых файлов ELF?", "elf.5"),
    _q("Где перечислены группы пользователей?", "group.5"),
    _q("Где задать статическое соответствие имён узлов и адресов?", "hosts.5"),
    _q("Какое сообщение выводится перед приглашением ко входу в систему?", "issue.5"),
    _q("Где хранится сообщение дня?", "motd.5"),
    _q("Как запретить вход в систему обычным пользователям?", "nologin.5"),
    _q("Какой файл задаёт источники данных для диспетчера службы имён?", "nsswitch.conf.5", "nss.5"),
    _q("Где указываются серверы имён для резолвера?", "resolv.conf.5", "resolver.5"),
    _q("Где находится список сетевых служб и их портов?", "services.5"),
    _q("Какие командные оболочки разрешены для входа?", "shells.5"),
    _q("Что за файловая система хранит файлы в виртуальной памяти?", "tmpfs.5"),
    _q("Где записываются входы пользователей в систему?", "utmp.5", "utmpx.5", "wtmp.5"),
    _q(
        "Как динамический загрузчик находит разделяемые библиотеки при запуске программы?",
        "ld.so.8",
        "ld-linux.8",
        "ld-linux.so.8",
    ),
    _q("Как узнать текущее время в заданном часовом поясе?", "zdump.8"),
)


def manpages_ru() -> Path:
    """The prepared folder of Russian pages; a clear error when `make corpora` has not run."""
    folder = CACHE / PACKAGE / "text"
    if not (folder / ".complete").exists():
        raise FileNotFoundError(
            f"{folder} is not prepared: run `make corpora` (python -m devcluster.corpora)"
        )
    return folder


def prepare(package: str = PACKAGE, language: str = "ru") -> Path:
    """Download, unpack and convert `package` once; returns the folder of .txt pages."""
    root = CACHE / package
    text = root / "text"
    if (text / ".complete").exists():
        return text
    deb = _download(package, root / "deb")
    unpacked = root / "unpacked"
    shutil.rmtree(unpacked, ignore_errors=True)
    subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
    shutil.rmtree(text, ignore_errors=True)
    text.mkdir(parents=True)
    seen: set[str] = set()
    for section in SECTIONS:
        for page in sorted((unpacked / "usr/share/man" / language / section).glob("*.gz")):
            body = render(page)
            digest = hashlib.sha256(body.encode()).hexdigest()
            if not body.strip() or digest in seen:
                continue
            seen.add(digest)
            (text / f"{page.name.removesuffix('.gz')}.txt").write_text(body, encoding="utf-8")
    (text / ".complete").write_text(f"{len(seen)} pages\n")
    return text


def _download(package: str, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    found = sorted(into.glob(f"{package}_*.deb"))
    if found:
        return found[-1]
    done = subprocess.run(["apt-get", "download", package], cwd=into, capture_output=True, text=True)
    if done.returncode != 0:  # a fresh machine has no package lists yet
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "download", package], cwd=into, check=True)
    return sorted(into.glob(f"{package}_*.deb"))[-1]


def render(page: Path) -> str:
    """Plain text of a gzipped man page: `man -l` when man-db is installed, else strip_troff."""
    if shutil.which("man"):
        env = {**os.environ, "MANWIDTH": "100", "LC_ALL": "C.UTF-8", "MAN_KEEP_FORMATTING": ""}
        env.pop("MANPAGER", None)
        env.pop("PAGER", None)
        done = subprocess.run(
            ["man", "-E", "UTF-8", "-l", str(page)], env=env, capture_output=True, text=True, check=False
        )
        if done.returncode == 0 and done.stdout.strip():
            return _tidy(re.sub(r".\x08", "", done.stdout))
    return _tidy(strip_troff(gzip.decompress(page.read_bytes()).decode("utf-8", errors="replace")))


_ESCAPES = {r"\-": "-", r"\(em": "—", r"\(en": "–", r"\(lq": "«", r"\(rq": "»", r"\(aq": "'", r"\e": "\\"}


def strip_troff(source: str) -> str:
    """A small troff-to-text stripper for when man-db is absent: section headings (.SH) become
    lines, other requests and comments go, font switches and common escapes are replaced."""
    lines: list[str] = []
    for line in source.splitlines():
        if line.startswith(('.\\"', "'\\\"", '.\\"')):
            continue
        if line.startswith((".SH", ".SS")):
            lines.append("\n" + line[3:].strip().strip('"'))
            continue
        if line.startswith((".B ", ".I ", ".BR ", ".IR ", ".BI ", ".RB ", ".IB ")):
            line = line.split(" ", 1)[1].replace('"', "")
        elif line.startswith((".", "'")):
            continue
        for escape, plain in _ESCAPES.items():
            line = line.replace(escape, plain)
        line = re.sub(r"\\f[BIRP]|\\f\(..|\\&|\\[|]", "", line)
        lines.append(line)
    return "\n".join(lines)


def _tidy(text: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def copy_heads(source: Path, dest: Path, chars: int = PAGE_CHARS) -> list[str]:
    """The first `chars` characters of every page into `dest` (what the test and bench index)."""
    dest.mkdir(parents=True, exist_ok=True)
    names = []
    for page in sorted(source.glob("*.txt")):
        lines = (" ".join(line.split()) for line in page.read_text(encoding="utf-8").splitlines())
        text = "\n".join(lines)  # man's indentation and justification spaces carry nothing
        (dest / page.name).write_text(text[:chars], encoding="utf-8")
        names.append(page.name)
    return names


@dataclass
class Score:
    hits: int
    questions: int
    misses: list[str]
    chunks: int

    @property
    def hit_rate(self) -> float:
        return self.hits / self.questions


def hit_at_k(
    docs: Path,
    index_dir: Path,
    embedder: Any,
    questions: tuple[Question, ...],
    k: int = 5,
    mode: Literal["hybrid", "dense", "lexical"] | None = None,
) -> Score:
    """Index `docs` with `embedder` (its settings are the embedder's own), then count the
    questions whose answer page is among the documents of the top `k` passages, ranked by
    `mode` (the retriever's default, hybrid, when None; dense compares the models alone)."""
    from oozo_contract.index_settings import IndexSettings
    from oozo_runtime.indexing.build import build
    from oozo_runtime.retrieval import LoadedIndex, Retriever

    fingerprint = embedder.fingerprint
    settings = IndexSettings(
        source=str(docs),
        index_dir=index_dir,
        model=fingerprint.model,
        include=["*.txt"],
        batch_size=8,  # small requests: a slow server answers each well within its timeout
        embedding_provider=fingerprint.provider,
        embedding_base_url=getattr(embedder, "base_url", None),
        embedding_prefixes="server" if fingerprint.server_prefixes else "client",
    )
    result = build(settings, embedder=embedder)
    retriever = Retriever(embedder, LoadedIndex.load(index_dir, None, fingerprint))
    hits, misses = 0, []
    for question in questions:
        found, _ = retriever.retrieve(question.text, k, mode)
        if question.documents & {hit.document for hit in found}:
            hits += 1
        else:
            misses.append(question.text)
    return Score(hits, len(questions), misses, result.chunks)


if __name__ == "__main__":
    folder = prepare()
    print(f"{folder}: {(folder / '.complete').read_text().strip()}", file=sys.stderr)

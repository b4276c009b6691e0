"""`make eval`: retrieval quality of every mode on corpora the project generates (bench/eval_corpus.py),
with the bundled English model: hit@1, hit@5 and MRR@5 of the answering document for `dense`,
`lexical` and `hybrid`, beside two baselines measured in the same run on the same index:

- plain dense: FAISS's own top passages for the embedded question, no Oozo ranking code at all;
- before hybrid: the ranking Oozo served until hybrid retrieval (dense candidates re-ranked by
  cosine + 0.15 x the idf-weighted share of the question's words found in the chunk).

Documents are ranked by their first passage among the top 20 passages. The section is written into
docs/benchmarks.md with its command and wall time (bench/run.py's write_doc)."""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import eval_corpus

PASSAGES = 20
MODES = ("plain dense", "before hybrid", "dense", "lexical", "hybrid")


def document_ranking(documents: list[str]) -> list[str]:
    return list(dict.fromkeys(documents))


def score(rankings: list[tuple[list[str], str]]) -> dict[str, float]:
    """hit@1, hit@5 and MRR@5 over (ranked documents, right document) pairs."""
    ranks = [ranked.index(right) + 1 if right in ranked else math.inf for ranked, right in rankings]
    n = max(len(ranks), 1)
    return {
        "hit@1": round(sum(r == 1 for r in ranks) / n, 3),
        "hit@5": round(sum(r <= 5 for r in ranks) / n, 3),
        "mrr@5": round(sum(1 / r for r in ranks if r <= 5) / n, 3),
    }


def before_hybrid(index: Any, vector: Any, question: str) -> list[int]:
    """The re-rank Oozo served before hybrid retrieval, kept here as a baseline."""
    from oozo_runtime.text import terms

    if not hasattr(index, "_old_terms"):
        index._old_terms = [frozenset(terms(c["text"])) for c in index.chunks]
        df: Counter[str] = Counter()
        for t in index._old_terms:
            df.update(t)
        n = max(len(index.chunks), 1)
        index._old_idf = {w: math.log(1 + n / c) for w, c in df.items()}
        index._old_max = math.log(1 + n)
    scores, ids = index.index.search(vector, min(PASSAGES, index.index.ntotal))
    weights = {t: index._old_idf.get(t, index._old_max) for t in terms(question)}
    total = sum(weights.values()) or 1.0
    ranked = [
        (float(s) + 0.15 * sum(w for t, w in weights.items() if t in index._old_terms[i]) / total, int(i))
        for s, i in zip(scores[0], ids[0], strict=True)
        if i >= 0
    ]
    return [i for _, i in sorted(ranked, key=lambda p: -p[0])]


def evaluate(corpus: eval_corpus.Corpus, index_dir: Path, embedder: Any) -> dict[str, Any]:
    from oozo_contract.index_settings import IndexSettings
    from oozo_runtime.indexing.build import build
    from oozo_runtime.retrieval import LoadedIndex

    started = time.monotonic()
    built = build(
        IndexSettings(source=str(corpus.root), index_dir=index_dir, include=corpus.include), embedder=embedder
    )
    index = LoadedIndex.load(index_dir, None, embedder.fingerprint)
    indexed = time.monotonic()
    per_mode: dict[str, list[tuple[list[str], str]]] = defaultdict(list)
    per_kind: dict[tuple[str, str], list[tuple[list[str], str]]] = defaultdict(list)
    docs_of: Callable[[list[int]], list[str]] = lambda ids: document_ranking(  # noqa: E731
        [index.chunks[i]["document"] for i in ids]
    )
    for question in corpus.questions:
        vector = embedder.encode_query(question.text)
        _, plain = index.index.search(vector, min(PASSAGES, index.index.ntotal))
        ranked = {
            "plain dense": docs_of([int(i) for i in plain[0] if i >= 0]),
            "before hybrid": docs_of(before_hybrid(index, vector, question.text)),
        }
        for mode in ("dense", "lexical", "hybrid"):
            ranked[mode] = document_ranking(
                [h.document for h in index.search(vector, PASSAGES, question.text, mode)]
            )
        for mode, documents in ranked.items():
            per_mode[mode].append((documents, question.document))
            per_kind[(mode, question.kind)].append((documents, question.document))
    kinds = sorted({q.kind for q in corpus.questions})
    return {
        "documents": built.documents,
        "chunks": built.chunks,
        "questions": len(corpus.questions),
        "kinds": {k: sum(q.kind == k for q in corpus.questions) for k in kinds},
        "scores": {mode: score(per_mode[mode]) for mode in MODES},
        "hitAt1ByKind": {mode: {k: score(per_kind[(mode, k)])["hit@1"] for k in kinds} for mode in MODES},
        "indexSeconds": round(indexed - started, 1),
        "querySeconds": round(time.monotonic() - indexed, 1),
    }


def run() -> dict[str, Any]:
    from oozo_runtime.embedding import Embedder

    started = time.monotonic()
    embedder = Embedder()
    result: dict[str, Any] = {"model": embedder.fingerprint.model, "corpora": {}}
    with tempfile.TemporaryDirectory(prefix="oozo-eval-") as tmp:
        root = Path(tmp)
        for name, make in (("english", eval_corpus.english), ("russian", eval_corpus.russian)):
            corpus = make(root / name / "docs")
            result["corpora"][name] = evaluate(corpus, root / name / "index", embedder)
    result["seconds"] = round(time.monotonic() - started, 1)
    return result


CORPUS_TEXT = {
    "english": "Python standard-library docstrings as .docx (one per module, headings, a table; "
    "near-duplicate twins of {twins} modules)",
    "russian": "Debian's manpages-ru page heads, Russian text with the English model",
}


def markdown_rows(r: dict[str, Any]) -> list[str]:
    rows = [
        f"Wall time {r['seconds']} s (both corpora: generate, index, ask). Model: `{r['model']}`. "
        "Corpora and questions are generated by bench/eval_corpus.py from text on the machine; a "
        "question's right document is the one its passage came from; documents rank by their first "
        f"passage among the top {PASSAGES}. *plain dense* is FAISS's own order; *before hybrid* the "
        "cosine + idf-share re-rank Oozo served until hybrid retrieval.",
    ]
    for name, c in r["corpora"].items():
        kinds = ", ".join(f"{k} {n}" for k, n in c["kinds"].items())
        rows += [
            "",
            f"**{name}**: {CORPUS_TEXT[name].format(twins=len(eval_corpus.TWINS))}; {c['documents']} "
            f"documents, {c['chunks']} chunks, {c['questions']} questions ({kinds}); index "
            f"{c['indexSeconds']} s, questions {c['querySeconds']} s.",
            "",
            "| mode | hit@1 | hit@5 | MRR@5 | hit@1 by kind |",
            "|---|---|---|---|---|",
        ]
        for mode in MODES:
            s = c["scores"][mode]
            by_kind = ", ".join(f"{k} {v:.2f}" for k, v in c["hitAt1ByKind"][mode].items())
            bold = "**" if mode == "hybrid" else ""
            rows.append(
                f"| {bold}{mode}{bold} | {s['hit@1']:.3f} | {s['hit@5']:.3f} | {s['mrr@5']:.3f} | {by_kind} |"
            )
    return rows


def main() -> None:
    from bench.run import ROOT, write_doc

    result = run()
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "retrieval.json").write_text(json.dumps(result, indent=2) + "\n")
    rows = markdown_rows(result)
    print("\n".join(rows))
    write_doc({"retrieval": rows}, "make eval")


if __name__ == "__main__":
    main()

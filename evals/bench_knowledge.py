"""Knowledge base benchmark: ingest throughput beside raw encoding, query latency at 10k and 100k chunks, disk."""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from copilot.evaluation.retrieval import default_questions, load_questions
from knowledge import KnowledgeBase, library_path
from knowledge.embedding import Embedder, shared_embedder
from knowledge.ingest import indexed_text

QUESTIONS = default_questions()


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _questions() -> list[str]:
    return [q.question for q in load_questions(QUESTIONS)]


def measure_ingest(embedder: Embedder, work: Path) -> dict[str, Any]:
    """Ingest the shipped library into an empty collection, then encode the same texts raw, in the same run."""
    kb = KnowledgeBase(work / "ingest", embedder=embedder)
    started = time.perf_counter()
    summary = kb.ingest([library_path()], progress=False)
    ingest_s = time.perf_counter() - started
    chunks = kb.store.get("chunks")
    records = kb.store.get("records")
    texts = [
        indexed_text(str(c.metadata.get("title", "")), str(c.metadata.get("section", "")), c.text) for c in chunks
    ] + [r.text for r in records]
    started = time.perf_counter()
    embedder.encode(texts)
    raw_s = time.perf_counter() - started
    items = len(chunks) + len(records)
    return {
        "files": len(summary.outcomes),
        "chunks": len(chunks),
        "records": len(records),
        "ingest_seconds": round(ingest_s, 2),
        "ingest_chunks_per_s": round(len(chunks) / ingest_s, 2),
        "ingest_items_per_s": round(items / ingest_s, 2),
        "raw_encode_items_per_s": round(items / raw_s, 2),
        "ratio_to_raw": round((items / ingest_s) / (items / raw_s), 3),
    }


def build_scaled(embedder: Embedder, work: Path, size: int, seed: int) -> tuple[KnowledgeBase, float]:
    """A collection of `size` chunks: the real library plus synthetic passages.

    Embedding 100k real passages would take hours on 2 cores, so synthetic passages reuse real vectors with
    noise (realistic neighbourhoods for the index) and text shuffled from the library's own words (realistic
    vocabulary for BM25). Queries are embedded for real at search time.
    """
    kb = KnowledgeBase(work / f"scale-{size}", embedder=embedder)
    kb.ingest([library_path()], progress=False)
    real = kb.store.get("chunks")
    vectors = embedder.encode(
        [indexed_text(str(c.metadata["title"]), str(c.metadata["section"]), c.text) for c in real]
    )
    words = " ".join(c.text for c in real).split()
    rng = random.Random(seed)
    started = time.perf_counter()
    batch_ids: list[str] = []
    batch_texts: list[str] = []
    batch_vectors: list[list[float]] = []
    batch_meta: list[dict[str, str | int | float | bool]] = []
    for i in range(size - len(real)):
        base = rng.randrange(len(real))
        noisy = [v + rng.gauss(0.0, 0.02) for v in vectors[base]]
        norm = sum(x * x for x in noisy) ** 0.5
        batch_ids.append(f"synthetic:{i}")
        batch_texts.append(" ".join(rng.choice(words) for _ in range(120)))
        batch_vectors.append([x / norm for x in noisy])
        meta = dict(real[base].metadata)
        meta.update(source=f"synthetic/{i // 50}.md", doc_id=f"synthetic{i // 50}")
        batch_meta.append(meta)
        if len(batch_ids) == 5000:
            kb.store.upsert("chunks", batch_ids, batch_texts, batch_vectors, batch_meta)
            batch_ids, batch_texts, batch_vectors, batch_meta = [], [], [], []
    if batch_ids:
        kb.store.upsert("chunks", batch_ids, batch_texts, batch_vectors, batch_meta)
    kb.rebuild_lexical()
    return kb, time.perf_counter() - started


def measure_queries(kb: KnowledgeBase, questions: list[str], rounds: int) -> dict[str, Any]:
    for q in questions[:5]:
        kb.search(q, k=5)  # warm caches and the lexical index load
    latencies = []
    filtered = []
    for i in range(rounds):
        q = questions[i % len(questions)]
        started = time.perf_counter()
        kb.search(q, k=5)
        latencies.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        kb.search(q, k=5, equipment="filler")
        filtered.append((time.perf_counter() - started) * 1000)

    def pct(values: list[float], p: float) -> float:
        return round(statistics.quantiles(values, n=100)[int(p) - 1], 2)

    return {
        "queries": rounds,
        "p50_ms": pct(latencies, 50),
        "p95_ms": pct(latencies, 95),
        "filtered_p50_ms": pct(filtered, 50),
        "filtered_p95_ms": pct(filtered, 95),
    }


def measure_embedding(embedder: Embedder, questions: list[str]) -> dict[str, float]:
    times = []
    for q in questions * 3:
        started = time.perf_counter()
        embedder.encode_query(q)
        times.append((time.perf_counter() - started) * 1000)
    return {"query_embed_p50_ms": round(statistics.median(times), 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.bench_knowledge", description=__doc__)
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated collection sizes in chunks")
    parser.add_argument("--queries", type=int, default=300, help="timed queries per size")
    parser.add_argument("--out", type=Path, default=Path("evals/results/knowledge.json"))
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    embedder = shared_embedder()
    questions = _questions()
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    }
    with tempfile.TemporaryDirectory(prefix="bench-knowledge-") as tmp:
        work = Path(tmp)
        results["ingest"] = measure_ingest(embedder, work)
        results["embedding"] = measure_embedding(embedder, questions)
        results["scale"] = []
        for size in sizes:
            kb, build_s = build_scaled(embedder, work, size, seed=size)
            row = {"chunks": kb.chunk_count(), "build_seconds": round(build_s, 1)}
            row.update(measure_queries(kb, questions, args.queries))
            disk = _dir_bytes(work / f"scale-{size}" / "knowledge")
            row["disk_bytes_per_chunk"] = round(disk / row["chunks"])
            results["scale"].append(row)
            print(f"  {size} chunks done", file=sys.stderr)
    ingest = results["ingest"]
    print("| what | figure |\n|---|---|")
    print(
        f"| library ingest | {ingest['chunks']} chunks + {ingest['records']} records in {ingest['ingest_seconds']} s |"
    )
    print(f"| ingest throughput | {ingest['ingest_chunks_per_s']} chunks/s ({ingest['ingest_items_per_s']} items/s) |")
    print(f"| raw encode, same texts, same run | {ingest['raw_encode_items_per_s']} items/s |")
    print(f"| ingest / raw encode (goal >= 0.8) | {ingest['ratio_to_raw']} |")
    print(f"| query embedding alone | {results['embedding']['query_embed_p50_ms']} ms p50 |")
    for row in results["scale"]:
        print(
            f"| {row['chunks']:,} chunks: query p50 / p95 (goal p95 < 50 ms) | {row['p50_ms']} / {row['p95_ms']} ms |"
        )
        filtered = f"{row['filtered_p50_ms']} / {row['filtered_p95_ms']} ms"
        print(f"| {row['chunks']:,} chunks: with equipment filter p50 / p95 | {filtered} |")
        print(f"| {row['chunks']:,} chunks: disk per chunk | {row['disk_bytes_per_chunk']:,} bytes |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

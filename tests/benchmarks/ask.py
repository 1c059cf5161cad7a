"""`kb.ask()` end to end: `python -m tests.benchmarks.ask --notes 10000 --questions 10`.

A knowledge base of generated notes plus a few topical ones; each question
runs the whole of `ask()` (hybrid retrieval and graph expansion, the model in
its worker process, citation checks, storing the chat node) with the default
model and settings. Reported per stage and end to end, p50/p95. The same
prompt run through the raw model in the same run (no retrieval, no worker
process, no storage) shows what NodeSpace adds around generation.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .data import generate
from .suite import percentile

TOPICS = {
    "Feeding the levain": "Feed the sourdough starter twice a day with equal weights of flour "
    "and water, and keep it at room temperature.",
    "Bike maintenance": "Oil the chain every 300 km and check the tyre pressure every week.",
    "Tomato seedlings": "Sow tomato seeds indoors in March; plant them out after the last frost.",
    "Lab meeting": "The lab meeting is on Tuesdays at ten in room 4.12; Maria chairs it.",
    "Passport renewal": "Renewing a passport takes six weeks; book the photo appointment first.",
}
QUESTIONS = [
    "How often should I feed the sourdough starter?",
    "When do I oil my bike chain?",
    "When should tomato seeds be sown?",
    "Who chairs the lab meeting and where is it?",
    "How long does a passport renewal take?",
]


def build(folder: Path, notes: int) -> Any:
    """A knowledge base of `notes` generated notes plus the topical ones."""
    from nodespace_lab.kb import KnowledgeBase

    kb = KnowledgeBase(folder)
    if notes >= 200:
        kb.import_nodes(generate(notes).frame)
    for title, content in TOPICS.items():
        kb.create("text", title, content)
    kb.sync_search()  # every note embedded before timing
    return kb


def run(notes: int, questions: int, tokens: int) -> dict[str, Any]:
    """Time `questions` asks (cycling through QUESTIONS) on a fresh knowledge base."""
    from nodespace_lab.ai import ask as asking

    with tempfile.TemporaryDirectory() as tmp:
        kb = build(Path(tmp) / "kb", notes)
        kb.settings.ai.answer_tokens = tokens
        model = kb.ai.model
        model.load()
        stages: dict[str, list[float]] = {"retrieve": [], "first_piece": [], "generate": []}
        stages.update({"finish": [], "ask": [], "raw_generate": []})
        cited = 0
        for i in range(questions):
            question = QUESTIONS[i % len(QUESTIONS)]
            started = time.perf_counter()
            prepared = asking.prepare(kb, question, limit=kb.settings.ai.context_nodes)
            stages["retrieve"].append(time.perf_counter() - started)
            generation = model.chat(prepared.messages, _options(tokens))
            stages["first_piece"].append(generation.first_token_seconds or 0.0)
            stages["generate"].append(generation.seconds)
            before = time.perf_counter()
            answer = asking.finish(kb, prepared, generation.text, model_name="bench")
            stages["finish"].append(time.perf_counter() - before)
            stages["ask"].append(time.perf_counter() - started)
            cited += len(answer.citations)
            stages["raw_generate"].append(_raw(model.settings, prepared.messages, tokens))
        kb.close()
    summary = {name: _p(values) for name, values in stages.items()}
    ratio = summary["ask"]["p50"] / max(summary["raw_generate"]["p50"], 1e-9)
    return {
        "overhead_ratio_p50": ratio,
        "notes": notes, "questions": questions, "tokens": tokens, "citations": cited,
        "stages": summary, "cpus": os.cpu_count(), "python": sys.version.split()[0],
        "machine": platform.machine(),
    }  # fmt: skip


_RAW: dict[str, Any] = {}


def _raw(settings: Any, messages: list[Any], tokens: int) -> float:
    """The same chat prompt through the raw llama-cpp-python model (loaded once)."""
    from nodespace_lab.models.llamacpp import LlamaCppBackend

    if "backend" not in _RAW:
        backend = LlamaCppBackend.from_settings(settings)
        backend.load()
        _RAW["backend"] = backend
    backend = _RAW["backend"]
    prompt, _ = backend.chat_prompt(messages)
    llama = backend._llama  # the raw llama_cpp.Llama underneath
    llama.reset()
    started = time.perf_counter()
    stops = ["<end_of_turn>", "<eos>"]
    for _ in llama(prompt, max_tokens=tokens, temperature=0.0, stop=stops, stream=True):
        pass
    return time.perf_counter() - started


def _options(tokens: int) -> Any:
    from nodespace_lab.models.backend import GenerationOptions

    return GenerationOptions(max_tokens=tokens)


def _p(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"p50": percentile(ordered, 50), "p95": percentile(ordered, 95)}


def report(result: dict[str, Any]) -> str:
    """A Markdown table of the stages (milliseconds)."""
    lines = [
        f"ask() over {result['notes']:,} generated + {len(TOPICS)} topical notes, "
        f"{result['questions']} questions, answers up to {result['tokens']} tokens, "
        f"{result['cpus']} CPUs",
        "",
        "| stage | p50 ms | p95 ms |",
        "|---|---|---|",
    ]
    for name, values in result["stages"].items():
        lines.append(f"| {name} | {values['p50'] * 1000:.0f} | {values['p95'] * 1000:.0f} |")
    lines.append(f"\nask / raw generation (p50): {result['overhead_ratio_p50']:.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table (and write JSON with --out)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=10_000)
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    result = run(args.notes, args.questions, args.tokens)
    print(report(result))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""llama.cpp generation, NodeSpace vs raw llama-cpp-python: `python -m tests.benchmarks.ai_llm`.

Both sides load the same GGUF (by default the packaged Gemma 3 270M) with the
same context, threads and sampling (greedy), and complete the same ~200-token
prompt for N tokens, in alternating order, run after run:
`LlamaCppBackend.stream()` against `llama_cpp.Llama(prompt, stream=True)`.
Both evaluate the whole prompt on every run (NodeSpace does so that runs
repeat; the raw model is reset before each run to match). Reported: time to the
first piece and generation speed (tokens after the first, per second), p50/p95,
and the ratios NodeSpace/raw (targets: speed >= 0.95, first piece ~1).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from .suite import percentile

TARGET_SPEED_RATIO = 0.95
TARGET_FIRST_RATIO = 1.10
# Varied sentences (a repeated one would be predicted too easily to be typical).
PROMPT_SENTENCES = (
    "The village library opened its doors every morning at nine.",
    "Farmers brought apples, pears and late plums to the market square.",
    "A narrow bridge crossed the river where the old mill still turned.",
    "Children learned to read from books donated by a travelling teacher.",
    "In winter the lake froze, and the whole town skated after school.",
    "The baker rose before dawn to light the ovens and knead the dough.",
    "Letters arrived twice a week, carried over the hills by a postman on a bicycle.",
    "Every spring the council argued about repairing the church roof.",
    "Fishermen mended their nets on the pier while gulls circled overhead.",
    "The stationmaster kept a garden of roses beside the single railway track.",
)


@dataclass
class Side:
    """Samples of one side: seconds to the first piece, generation tokens/s, texts."""

    first_s: list[float] = field(default_factory=list)
    tokens_per_s: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def add(self, first: float, total: float, tokens: int, text: str) -> None:
        """Record a run: `tokens` generated, the first piece after `first` s, all after `total`."""
        self.first_s.append(first)
        self.tokens.append(tokens)
        self.texts.append(text)
        # Tokens after the first, over the time after the first: decoding speed alone.
        self.tokens_per_s.append((tokens - 1) / (total - first) if tokens > 1 else 0.0)

    def summary(self) -> dict[str, float]:
        """p50/p95 of both measures (p95 of a speed is its slow end)."""
        first, speed = sorted(self.first_s), sorted(self.tokens_per_s)
        return {
            "first_piece_p50_s": percentile(first, 50),
            "first_piece_p95_s": percentile(first, 95),
            "tokens_per_s_p50": percentile(speed, 50),
            "tokens_per_s_p95": percentile(speed, 5),
            "tokens_p50": percentile(sorted(float(n) for n in self.tokens), 50),
        }


def make_prompt(llama: Any, prompt_tokens: int) -> str:
    """Sentences from PROMPT_SENTENCES (cycled) until the prompt has ~`prompt_tokens` tokens."""
    text = ""
    index = 0
    while len(llama.tokenize(text.encode(), add_bos=True)) < prompt_tokens:
        text += PROMPT_SENTENCES[index % len(PROMPT_SENTENCES)] + " "
        index += 1
    return text.rstrip()


def run_ours(backend: Any, prompt: str, tokens: int) -> tuple[float, float, int, str]:
    """One NodeSpace run: (first piece s, total s, completion tokens, text)."""
    from nodespace_lab.models.backend import GenerationOptions

    started = time.perf_counter()
    first = 0.0
    pieces: list[str] = []
    stream = backend.stream(prompt, GenerationOptions(max_tokens=tokens))
    while True:
        try:
            piece = next(stream)
        except StopIteration as done:
            completion = int(done.value[1])
            break
        if not pieces:
            first = time.perf_counter() - started
        pieces.append(piece)
    return first, time.perf_counter() - started, completion, "".join(pieces)


def run_raw(llama: Any, prompt: str, tokens: int) -> tuple[float, float, int, str]:
    """One raw llama-cpp-python run with the same sampling as NodeSpace's greedy default."""
    llama.reset()  # evaluate the whole prompt, as NodeSpace does
    started = time.perf_counter()
    first = 0.0
    pieces: list[str] = []
    chunks: Iterator[Any] = llama(
        prompt, max_tokens=tokens, temperature=0.0, top_p=1.0, top_k=0, min_p=0.0,
        repeat_penalty=1.0, seed=0, stream=True,
    )  # fmt: skip
    finish = ""
    for chunk in chunks:
        choice = chunk["choices"][0]
        if choice["text"]:
            if not pieces:
                first = time.perf_counter() - started
            pieces.append(choice["text"])
        finish = choice["finish_reason"] or finish
    total = time.perf_counter() - started
    text = "".join(pieces)
    # With no stop strings and greedy decoding, "length" means exactly `tokens` tokens.
    produced = tokens if finish == "length" else len(llama.tokenize(text.encode(), add_bos=False))
    return first, total, produced, text


def measure(
    model: Path, runs: int, tokens: int, prompt_tokens: int, context: int
) -> dict[str, Any]:
    """Load both sides, warm them up once, then alternate `runs` runs each."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import llama_cpp

    from nodespace_lab.models.llamacpp import LlamaCppBackend

    ours_backend = LlamaCppBackend(str(model), context_length=context, threads=1)
    ours_backend.load()
    raw_llama = llama_cpp.Llama(
        model_path=str(model), n_ctx=context, n_threads=1, n_threads_batch=1, verbose=False
    )
    prompt = make_prompt(raw_llama, prompt_tokens)
    ours, raw = Side(), Side()
    run_ours(ours_backend, prompt, tokens)
    run_raw(raw_llama, prompt, tokens)
    for index in range(runs):
        order = [("ours", ours), ("raw", raw)] if index % 2 == 0 else [("raw", raw), ("ours", ours)]
        for name, side in order:
            if name == "ours":
                side.add(*run_ours(ours_backend, prompt, tokens))
            else:
                side.add(*run_raw(raw_llama, prompt, tokens))
    prompt_length = len(raw_llama.tokenize(prompt.encode(), add_bos=True))
    raw_llama.close()
    ours_backend.unload()
    return _report(ours, raw, prompt_length, runs, tokens, model)


def _report(
    ours: Side, raw: Side, prompt_length: int, runs: int, tokens: int, model: Path
) -> dict[str, Any]:
    mine, theirs = ours.summary(), raw.summary()
    return {
        "model": str(model),
        "prompt_tokens": prompt_length,
        "runs": runs,
        "max_tokens": tokens,
        "ours": mine,
        "raw": theirs,
        "speed_ratio_p50": mine["tokens_per_s_p50"] / theirs["tokens_per_s_p50"],
        "first_piece_ratio_p50": mine["first_piece_p50_s"] / theirs["first_piece_p50_s"],
        "same_text": ours.texts == raw.texts,
    }


def print_report(result: dict[str, Any]) -> None:
    """A Markdown table of both sides and the ratios."""
    ours, raw = result["ours"], result["raw"]
    print(
        f"### llama.cpp generation: {result['prompt_tokens']}-token prompt, "
        f"{result['max_tokens']} tokens, {result['runs']} runs, greedy, 1 thread\n"
    )
    print("| measure | NodeSpace | raw llama-cpp-python | ratio |")
    print("|---|---|---|---|")
    for label, key, fmt in (
        ("first piece p50 (s)", "first_piece_p50_s", ".3f"),
        ("first piece p95 (s)", "first_piece_p95_s", ".3f"),
        ("tokens/s p50", "tokens_per_s_p50", ".1f"),
        ("tokens/s p95 (slow end)", "tokens_per_s_p95", ".1f"),
    ):
        ratio = ours[key] / raw[key]
        print(f"| {label} | {ours[key]:{fmt}} | {raw[key]:{fmt}} | {ratio:.3f} |")
    speed_ok = result["speed_ratio_p50"] >= TARGET_SPEED_RATIO
    first_ok = result["first_piece_ratio_p50"] <= TARGET_FIRST_RATIO
    print(
        f"\nspeed ratio p50 {result['speed_ratio_p50']:.3f} (target >= {TARGET_SPEED_RATIO}): "
        f"{'PASS' if speed_ok else 'MISS'}; first-piece ratio p50 "
        f"{result['first_piece_ratio_p50']:.3f} (target <= {TARGET_FIRST_RATIO}): "
        f"{'PASS' if first_ok else 'MISS'}; same greedy text: {result['same_text']}"
    )


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, measure, print, and write JSON when `--out` is given."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=10, help="timed runs per side")
    parser.add_argument("--tokens", type=int, default=64, help="tokens generated per run")
    parser.add_argument("--prompt-tokens", type=int, default=200, help="prompt length")
    parser.add_argument("--context", type=int, default=2048, help="context window (n_ctx)")
    parser.add_argument("--model", type=Path, default=None, help="GGUF (default: packaged)")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args(argv)
    from nodespace_lab.models.files import default_gguf

    model = args.model or default_gguf()
    result = measure(model, args.runs, args.tokens, args.prompt_tokens, args.context)
    result["machine"] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "llama_cpp_python": metadata.version("llama_cpp_python"),
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    print_report(result)
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2))
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

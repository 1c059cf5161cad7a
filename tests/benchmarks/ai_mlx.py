"""MLX generation through NodeSpace vs raw mlx-lm: `python -m tests.benchmarks.ai_mlx`.

Both sides load the same MLX folder (by default the packaged Gemma 3 270M,
converted once) and complete the same prompt greedily for N tokens, in
alternating order, run after run: `MlxBackend.stream()` (stop strings,
cancellation checks, token counting) against `mlx_lm.stream_generate` with a
greedy sampler. It reports the time to the first text (the first non-empty
piece: mlx-lm's sentencepiece detokenizer releases a word when the next one
starts, so on both sides that is the same token) and the generation speed
(tokens after that point, per second) as p50/p95, and the ratio of NodeSpace's
speed to raw mlx-lm's (target >= 0.95 for both).
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

PROMPT = "Once upon a time, in a small village by the sea, there lived"
TARGET_RATIO = 0.95


@dataclass
class Side:
    """Samples of one side: seconds to the first piece, generation tokens/s."""

    first_token_s: list[float] = field(default_factory=list)
    tokens_per_s: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)

    def add(self, first: float, total: float, tokens: int) -> None:
        """Record one run: `tokens` generated, the first after `first` s, all after `total`."""
        self.first_token_s.append(first)
        self.tokens.append(tokens)
        # Tokens after the first, over the time after the first: decoding speed alone.
        self.tokens_per_s.append((tokens - 1) / (total - first) if tokens > 1 else 0.0)

    def summary(self) -> dict[str, float]:
        """p50/p95 of both measures."""
        first, speed = sorted(self.first_token_s), sorted(self.tokens_per_s)
        return {
            "first_token_p50_s": percentile(first, 50),
            "first_token_p95_s": percentile(first, 95),
            "tokens_per_s_p50": percentile(speed, 50),
            "tokens_per_s_p95": percentile(speed, 5),  # the slow end: 95% of runs are faster
        }


def _timed(pieces: Iterator[Any], text: Any = str) -> tuple[float, float, list[Any]]:
    """Seconds to the first piece with text, seconds to the end, and the pieces."""
    started = time.perf_counter()
    first = 0.0
    seen: list[Any] = []
    for piece in pieces:
        if not first and text(piece):
            first = time.perf_counter() - started
        seen.append(piece)
    return first, time.perf_counter() - started, seen


def run_ours(backend: Any, prompt: str, tokens: int, side: Side) -> str:
    """One greedy completion through `MlxBackend.stream`; returns its text."""
    from nodespace_lab.models.backend import GenerationOptions

    stream = backend.stream(prompt, GenerationOptions(max_tokens=tokens))
    counts: list[int] = []

    def pieces() -> Iterator[str]:
        counts.append((yield from stream)[1])

    first, total, seen = _timed(pieces())
    side.add(first, total, counts[0])
    return "".join(seen)


def run_raw(model: Any, tokenizer: Any, prompt: str, tokens: int, side: Side) -> str:
    """One greedy completion through raw `mlx_lm.stream_generate`; returns its text."""
    from mlx_lm import stream_generate
    from mlx_lm.sample_utils import make_sampler

    responses = stream_generate(
        model, tokenizer, prompt, max_tokens=tokens, sampler=make_sampler(0.0)
    )
    first, total, seen = _timed(responses, lambda response: response.text)
    last = seen[-1]
    side.add(first, total, last.generation_tokens - (last.finish_reason == "stop"))
    return "".join(response.text for response in seen)


def resolve_model(model: str) -> tuple[Path, float]:
    """The MLX folder to benchmark, and seconds to find it (with a conversion if not cached)."""
    from nodespace_lab.models.mlx import resolve_folder

    started = time.perf_counter()
    folder, _source = resolve_folder(model)
    return folder, time.perf_counter() - started


def bench(folder: Path, runs: int, tokens: int, warmup: int, prompt: str) -> dict[str, Any]:
    """Load both sides from `folder` and time `runs` completions of each, alternating."""
    from mlx_lm import load

    from nodespace_lab.models.mlx import MlxBackend

    backend = MlxBackend(str(folder))
    started = time.perf_counter()
    backend.load()
    load_ours = time.perf_counter() - started
    started = time.perf_counter()
    model, tokenizer = load(str(folder))[:2]
    load_raw = time.perf_counter() - started
    ours, raw, scratch = Side(), Side(), Side()
    for _ in range(warmup):
        run_ours(backend, prompt, tokens, scratch)
        run_raw(model, tokenizer, prompt, tokens, scratch)
    texts = set()
    for index in range(runs):
        # Alternate who goes first, so neither side always runs on a warmer machine.
        if index % 2:
            texts.add(run_raw(model, tokenizer, prompt, tokens, raw))
            texts.add(run_ours(backend, prompt, tokens, ours))
        else:
            texts.add(run_ours(backend, prompt, tokens, ours))
            texts.add(run_raw(model, tokenizer, prompt, tokens, raw))
    backend.unload()
    return _result(ours, raw, texts, load_ours, load_raw)


def _result(
    ours: Side, raw: Side, texts: set[str], load_ours: float, load_raw: float
) -> dict[str, Any]:
    mine, theirs = ours.summary(), raw.summary()
    ratios = {
        "tokens_per_s_p50": mine["tokens_per_s_p50"] / theirs["tokens_per_s_p50"],
        "tokens_per_s_p95": mine["tokens_per_s_p95"] / theirs["tokens_per_s_p95"],
        # A speed ratio too: raw time over ours, so higher is better on every line.
        "first_token_p50": theirs["first_token_p50_s"] / mine["first_token_p50_s"],
        "first_token_p95": theirs["first_token_p95_s"] / mine["first_token_p95_s"],
    }
    return {
        "ours": {**mine, "tokens": ours.tokens, "load_s": load_ours},
        "raw": {**theirs, "tokens": raw.tokens, "load_s": load_raw},
        "ratios": ratios,
        "same_text": len(texts) == 1,
        "checks": [
            {"measure": name, "target": f">= {TARGET_RATIO}", "value": value,
             "ok": value >= TARGET_RATIO}
            for name, value in ratios.items()
            if name.endswith("p50")
        ],
    }  # fmt: skip


def table(result: dict[str, Any]) -> str:
    """A Markdown table of the results."""
    ours, raw, ratios = result["ours"], result["raw"], result["ratios"]
    verdict = {check["measure"]: "PASS" if check["ok"] else "MISS" for check in result["checks"]}

    def row(title: str, p50: str, p95: str, ratio: str, show: str) -> str:
        cells = " | ".join(show.format(side[key]) for side in (ours, raw) for key in (p50, p95))
        return (
            f"| {title} | {cells} | {ratios[ratio + '_p50']:.3f} | {ratios[ratio + '_p95']:.3f} "
            f"| >= {TARGET_RATIO} | {verdict[ratio + '_p50']} |"
        )

    return "\n".join(
        [
            "| measure | NodeSpace p50 | NodeSpace p95 | raw mlx-lm p50 | raw mlx-lm p95 "
            "| speed ratio p50 | speed ratio p95 | target | result |",
            "|---|---:|---:|---:|---:|---:|---:|---|---|",
            row(
                "time to first text (s)",
                "first_token_p50_s",
                "first_token_p95_s",
                "first_token",
                "{:.3f}",
            ),
            row(
                "generation tokens/s",
                "tokens_per_s_p50",
                "tokens_per_s_p95",
                "tokens_per_s",
                "{:.2f}",
            ),
            "",
            f"Same greedy text on both sides: {result['same_text']}. Load: NodeSpace "
            f"{ours['load_s']:.1f} s, raw {raw['load_s']:.1f} s. p95 of tokens/s is the "
            "slow end (5th percentile of speed).",
        ]
    )


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for package in ("mlx", "mlx-lm", "nodespace-lab"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the benchmark, print the table and write the JSON."""
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.ai_mlx", description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="timed completions per side")
    parser.add_argument("--tokens", type=int, default=32, help="tokens per completion")
    parser.add_argument("--warmup", type=int, default=1, help="untimed completions per side")
    parser.add_argument("--prompt", default=PROMPT, help="the prompt both sides complete")
    parser.add_argument(
        "--model",
        default="",
        help="MLX folder or Gemma 3 GGUF (default: the packaged Gemma 3 270M, converted once)",
    )
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    os.environ["HF_HUB_OFFLINE"] = "1"
    folder, resolve_s = resolve_model(args.model)
    result = bench(folder, args.runs, args.tokens, args.warmup, args.prompt)
    report = {
        "command": " ".join(["python -m tests.benchmarks.ai_mlx", *(argv or sys.argv[1:])]),
        "started": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "versions": _versions(),
        "model": str(folder),
        "resolve_s": resolve_s,
        "runs": args.runs,
        "tokens": args.tokens,
        "prompt": args.prompt,
        **result,
    }
    print(f"MLX, {args.tokens} greedy tokens x {args.runs} runs, model {folder}")
    print(table(result))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"Results written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

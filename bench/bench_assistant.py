"""The assistant's inference service against raw llama.cpp, on the same model, in one run.

Run from the repository root::

    .venv/bin/python -m bench.bench_assistant [--shape small|0.5b] [--tokens 64]
                                              [--rounds 3] [--threads N]

Writes a random-weight llama-architecture GGUF (``--shape 0.5b``: 896 wide, 24 layers,
14 heads / 2 KV heads, FFN 4864 — a Qwen2-0.5B-like body with a 32k vocabulary, ~0.8 GB
of float16; ``small``: 512 wide, 8 layers, for a quick run), then alternates, for
``--rounds`` rounds, on the same chat prompt and sampling settings:

* **raw**: ``llama_cpp.Llama.generate`` in a plain loop (prompt already rendered), the
  least any client can do;
* **service**: ``InferenceService.submit`` (worker thread, the model's chat template,
  tokens streamed to the reactor), with the model already loaded, while a 10 ms
  ``LoopingCall`` on the reactor records how late it fires.

Prints time to first token and tokens/s (median of the rounds) for both, their ratio,
and the reactor timer's worst lateness. Targets (issue 16): tokens/s ratio ≥ 0.97, no
stall over 50 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from typing import Any

from twisted.internet import defer, task

from securechat.client.assistant import prompts
from securechat.client.assistant.llama import render_prompt
from securechat.client.assistant.service import InferenceService, ServiceSettings
from tests.tinyllama import write_random_model

SHAPES = {"small": dict(embed=512, layers=8, heads=8, kv_heads=2, ffn=1536, vocab=8000),
          "0.5b": dict(embed=896, layers=24, heads=14, kv_heads=2, ffn=4864, vocab=32000)}
TICK = 0.010
SAMPLING = dict(temp=0.7, top_p=0.9, top_k=40, min_p=0.05, repeat_penalty=1.0)
MESSAGES = prompts.compose("hey, can u send me teh report before friday? thx")


def raw_round(llm: Any, tokens: int) -> tuple[float, float]:
    """(seconds to the first token, tokens/s after it) with llama_cpp directly."""
    prompt = llm.tokenize(render_prompt(llm, MESSAGES).encode(), add_bos=False, special=True)
    start = time.perf_counter()
    first = None
    made = 0
    for _ in llm.generate(prompt, reset=True, **SAMPLING):
        made += 1
        if first is None:
            first = time.perf_counter()
        if made >= tokens:
            break
    end = time.perf_counter()
    assert first is not None
    return first - start, (made - 1) / (end - first)


@defer.inlineCallbacks
def service_round(reactor: Any, service: InferenceService, tokens: int) -> Any:
    """(seconds to the first token, tokens/s after it, worst timer lateness)."""
    lateness = [0.0]
    expected = [reactor.seconds() + TICK]

    def tick() -> None:
        now = reactor.seconds()
        lateness[0] = max(lateness[0], now - expected[0])
        expected[0] = now + TICK
    timer = task.LoopingCall(tick)
    timer.clock = reactor
    timer.start(TICK, now=False)
    start = time.perf_counter()
    generation = service.submit(MESSAGES, max_tokens=tokens)
    first: list[float] = []
    generation.on_token(lambda _: first or first.append(time.perf_counter()))
    yield generation.done
    end = time.perf_counter()
    timer.stop()
    return first[0] - start, (generation.produced - 1) / (end - first[0]), lateness[0]


@defer.inlineCallbacks
def run(reactor: Any, args: argparse.Namespace) -> Any:
    import llama_cpp

    work = tempfile.mkdtemp(prefix="bench-assistant-")
    path = os.path.join(work, f"random-{args.shape}.gguf")
    started = time.perf_counter()
    write_random_model(path, **SHAPES[args.shape])
    print(f"model: {args.shape}, {os.path.getsize(path) / 1e6:.0f} MB float16, written in "
          f"{time.perf_counter() - started:.1f} s; {args.threads} threads, "
          f"{args.tokens} tokens a generation, {args.rounds} rounds")
    settings = ServiceSettings(model_path=path, threads=args.threads, context=2048,
                               temperature=SAMPLING["temp"], top_p=SAMPLING["top_p"],
                               timeout_s=3600)
    llm = llama_cpp.Llama(model_path=path, n_ctx=2048, n_threads=args.threads,
                          n_threads_batch=args.threads, verbose=False)
    service = InferenceService(reactor, settings)
    try:
        # Load and warm both before timing.
        yield service.submit(MESSAGES, max_tokens=4).done.addErrback(lambda _: None)
        raw_round(llm, 4)
        raw, served, late = [], [], []
        for _ in range(args.rounds):
            raw.append(raw_round(llm, args.tokens))
            first, rate, worst = yield service_round(reactor, service, args.tokens)
            served.append((first, rate))
            late.append(worst)
        raw_first = statistics.median(r[0] for r in raw)
        raw_rate = statistics.median(r[1] for r in raw)
        svc_first = statistics.median(s[0] for s in served)
        svc_rate = statistics.median(s[1] for s in served)
        ratio = svc_rate / raw_rate
        print(f"raw llama_cpp.Llama : first token {raw_first * 1000:7.1f} ms, "
              f"{raw_rate:7.1f} tokens/s")
        print(f"assistant service   : first token {svc_first * 1000:7.1f} ms, "
              f"{svc_rate:7.1f} tokens/s")
        print(f"ratio (service/raw) : {ratio:.3f} tokens/s (target >= 0.97), first token "
              f"+{(svc_first - raw_first) * 1000:.1f} ms")
        print(f"reactor 10 ms timer : worst lateness {max(late) * 1000:.1f} ms "
              f"(target <= 50 ms)")
        ok = ratio >= 0.97 and max(late) <= 0.050
        print("PASS" if ok else "MISS")
    finally:
        yield service.close()
        llm.close()
        os.remove(path)
        os.rmdir(work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="small")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    task.react(lambda reactor: run(reactor, args))


if __name__ == "__main__":
    main()

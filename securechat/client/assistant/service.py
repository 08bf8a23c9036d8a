"""Inference on this device: llama.cpp in one worker thread, the reactor never waits.

    submit(messages) --> Generation (queued) --> running --> done / cancelled / timed out
                                                   | each token: on_token(piece), in the reactor

One generation runs at a time; the others wait in order (a small model on a laptop
shares its cores badly, and llama.cpp's context is not for two threads at once). The
model loads lazily, in the worker thread, with the first generation, and is unloaded
after `idle_unload_s` without work to give its memory back. Tokens cross to the reactor
with `callFromThread`; `cancel()` and the timeout are seen by the worker before the next
token, so at most the token being computed is discarded. llama-cpp-python releases the
GIL while it computes, so the reactor keeps its pace (bench/bench_assistant.py measures it).

The prompt is rendered with the model's own chat template (`tokenizer.chat_template` in
the GGUF file; ChatML when it has none), the way llama-cpp-python's chat handler does,
and kept in `Generation.prompt` so that what the model read can be checked.
"""

from __future__ import annotations

import codecs
import collections
import os
import time
from collections.abc import Callable
from typing import Any

import attrs
from twisted.internet import defer, threads
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool

from securechat.client.assistant.errors import (
    AssistantClosed,
    DeviceUnsupported,
    GenerationCancelled,
    GenerationFailed,
    GenerationTimedOut,
)
from securechat.client.assistant.lifecycle import GENERATING, ModelLifecycle
from securechat.client.assistant.llama import (
    Message,
    end_of_generation,
    load_model,
    render_prompt,
    starts_with_bos,
)

QUEUED, RUNNING, DONE = "queued", "running", "done"


@attrs.define
class ServiceSettings:
    model_path: str | None = None
    threads: int | None = None  # None: all cores
    timeout_s: float = 120.0  # one generation, from when it starts running
    idle_unload_s: float = 600.0
    context: int = 4096
    temperature: float = 0.7
    top_p: float = 0.9

    @property
    def thread_count(self) -> int:
        return self.threads or os.cpu_count() or 1




class Generation:
    """One request to the model. `done` fires with `parse(text)` when the model stops by
    itself (or at `max_tokens`), or fails with GenerationCancelled, GenerationTimedOut,
    GenerationFailed, DeviceUnsupported or ModelMissing; `text` keeps what came either way."""

    def __init__(self, messages: list[Message], max_tokens: int,
                 parse: Callable[[str], Any] = lambda text: text) -> None:
        self.messages = messages
        self.max_tokens = max_tokens
        self.parse = parse
        self.state = QUEUED
        self.prompt: str | None = None  # as the model's chat template rendered it
        self.pieces: list[str] = []  # the text as streamed, one entry per delivery
        # Cancelling `done` (Ctrl-C in the CLI) stops the generation too.
        self.done: defer.Deferred[Any] = defer.Deferred(lambda _: self.cancel())
        self.produced = 0  # tokens the worker generated and kept (it writes this)
        self.produced_at_cancel: int | None = None
        self._listeners: list[Callable[[str], None]] = []
        self._stop: str | None = None  # why the worker should stop: "cancel", set once
        self._service: InferenceService | None = None

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    def on_token(self, listener: Callable[[str], None]) -> None:
        """Call `listener(piece)` in the reactor for each piece of text as it comes."""
        self._listeners.append(listener)

    def cancel(self) -> None:
        """Stop now: nothing more is delivered, and the worker stops before its next
        token. A queued generation never starts. `done` fails with GenerationCancelled."""
        if self.state == DONE or self._stop:
            return
        self._stop = "cancel"
        self.produced_at_cancel = self.produced
        if self._service is not None:
            self._service._cancelled(self)

    def _deliver(self, piece: str) -> None:
        if self._stop or self.state == DONE:
            return  # already on its way from the worker when cancelled: dropped
        self.pieces.append(piece)
        for listener in list(self._listeners):
            listener(piece)

    def _finish(self, outcome: Any) -> None:
        if self.state == DONE:
            return
        self.state = DONE
        if self.done.called:  # cancelled through `done.cancel()`: it already failed
            return
        if isinstance(outcome, Failure):
            self.done.errback(outcome)
        else:
            try:
                self.done.callback(self.parse(self.text))
            except Exception:
                self.done.errback()


class InferenceService:
    """The model and its worker thread (see the module docstring)."""

    log = Logger()

    def __init__(self, reactor: Any, settings: ServiceSettings) -> None:
        self.reactor = reactor
        self.settings = settings
        self._queue: collections.deque[Generation] = collections.deque()
        self._current: Generation | None = None
        self._pool: ThreadPool | None = None
        self._llm: Any = None  # only the worker thread touches it
        self._loaded_path: str | None = None
        self._idle_timer: Any = None
        self._closed = False
        self._busy_until: defer.Deferred[None] | None = None
        self.unsupported: DeviceUnsupported | None = None  # the last load failure
        self.status_listeners: list[Callable[[str], None]] = []
        self.lifecycle = ModelLifecycle(self._status_changed)

    @property
    def status(self) -> str:
        """unloaded | loading | ready | generating | unsupported (lifecycle.py)."""
        return self.lifecycle.status

    # --- the public face -------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._llm is not None

    @property
    def queued(self) -> list[Generation]:
        return list(self._queue)

    @property
    def current(self) -> Generation | None:
        return self._current

    def submit(self, messages: list[Message], max_tokens: int = 256,
               parse: Callable[[str], Any] = lambda text: text) -> Generation:
        """Queue a generation; it starts when those before it are done."""
        generation = Generation(messages, max_tokens, parse)
        generation._service = self
        if self._closed:
            generation._finish(Failure(AssistantClosed("the assistant is shut down")))
            return generation
        self._queue.append(generation)
        self._next()
        return generation

    def configure(self, **changes: Any) -> defer.Deferred[None]:
        """Change settings; a new model file or thread count unloads the model (it is
        loaded again, lazily, with the next generation)."""
        reload = any(k in changes and changes[k] != getattr(self.settings, k)
                     for k in ("model_path", "threads", "context"))
        self.settings = attrs.evolve(self.settings, **changes)
        if reload:
            self.unsupported = None
            return self.unload()
        return defer.succeed(None)

    def unload(self) -> defer.Deferred[None]:
        """Free the model's memory once the current generation (if any) is done."""
        return self._after_current(self._free_in_worker)

    @defer.inlineCallbacks
    def close(self) -> Any:
        """Cancel everything, unload, and stop the worker thread."""
        if self._closed:
            return
        self._closed = True
        for generation in list(self._queue) + ([self._current] if self._current else []):
            generation.cancel()
        yield self.unload()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                self.reactor.removeSystemEventTrigger(self._shutdown_trigger)
            except (ValueError, KeyError):
                pass  # running as that trigger
            yield threads.deferToThread(pool.stop)  # joins the worker: not in the reactor
        self._cancel_idle_timer()

    # --- the queue, in the reactor ---------------------------------------------------------

    def _next(self) -> None:
        if self._current is not None or self._busy_until is not None:
            return
        while self._queue:
            generation = self._queue.popleft()
            if generation._stop:
                continue  # cancelled while queued
            self._run(generation)
            return

    def _run(self, generation: Generation) -> None:
        self._cancel_idle_timer()
        self._current = generation
        generation.state = RUNNING
        self.lifecycle.start()
        d = threads.deferToThreadPool(self.reactor, self._worker(), self._generate, generation)
        d.addBoth(self._ran, generation)

    def _ran(self, outcome: Any, generation: Generation) -> None:
        self._current = None
        if self.status == GENERATING:
            self.lifecycle.finished()
        elif isinstance(outcome, Failure) and outcome.check(DeviceUnsupported):
            self.unsupported = outcome.value
            self.lifecycle.failed_to_load()
        else:  # no model file, or the service closed before it loaded
            self.lifecycle.missing()
        if not isinstance(outcome, Failure):
            outcome = (Failure(GenerationCancelled("stopped")) if outcome == "cancel"
                       else Failure(GenerationTimedOut(self.settings.timeout_s))
                       if outcome == "timeout" else None)
        generation._finish(outcome)
        if not self._queue and self._llm is not None and not self._closed:
            self._idle_timer = self.reactor.callLater(self.settings.idle_unload_s,
                                                      self._idle)
        self._next()

    def _cancelled(self, generation: Generation) -> None:
        if generation.state == QUEUED:
            self._queue.remove(generation)
            generation._finish(Failure(GenerationCancelled("stopped before it started")))

    def _idle(self) -> None:
        self._idle_timer = None
        if self._current is None and not self._queue:
            self.log.info("assistant: idle, unloading the model")
            self.unload()

    def _cancel_idle_timer(self) -> None:
        if self._idle_timer is not None and self._idle_timer.active():
            self._idle_timer.cancel()
        self._idle_timer = None

    def _after_current(self, work: Callable[[], Any]) -> defer.Deferred[None]:
        """Run `work` in the worker between generations (queued ones wait for it)."""
        if self._pool is None:
            work()
            return defer.succeed(None)
        done: defer.Deferred[None] = defer.Deferred()

        def start(_: Any = None) -> None:
            if self._current is not None:
                self._current.done.addBoth(lambda r: (start(), r)[1])
                return
            self._busy_until = done
            d = threads.deferToThreadPool(self.reactor, self._pool, work)

            def finished(result: Any) -> None:
                self._busy_until = None
                if self._llm is None:
                    self.lifecycle.freed()
                done.callback(None)
                self._next()
            d.addBoth(finished)
        start()
        return done

    def _status_changed(self, status: str) -> None:
        for listener in list(self.status_listeners):
            listener(status)

    def _worker(self) -> ThreadPool:
        if self._pool is None:
            self._pool = ThreadPool(minthreads=1, maxthreads=1, name="securechat-assistant")
            self._pool.start()
            # A process that exits without close() must not wait on a generation.
            self._shutdown_trigger = self.reactor.addSystemEventTrigger(
                "before", "shutdown", self.close)
        return self._pool

    # --- in the worker thread ------------------------------------------------------------

    def _free_in_worker(self) -> None:
        llm, self._llm, self._loaded_path = self._llm, None, None
        if llm is not None:
            llm.close()

    def _load(self) -> Any:
        path = self.settings.model_path
        if self._llm is not None and self._loaded_path == path:
            return self._llm
        self._free_in_worker()
        self._llm = load_model(path, self.settings.context, self.settings.thread_count)
        self._loaded_path = path
        self.reactor.callFromThread(self.lifecycle.loaded)
        return self._llm

    def _generate(self, generation: Generation) -> str:
        """Runs in the worker: "done", "cancel" or "timeout" (or raises)."""
        llm = self._load()
        prompt = render_prompt(llm, generation.messages)
        self.reactor.callFromThread(setattr, generation, "prompt", prompt)
        tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=not starts_with_bos(llm, prompt),
                              special=True)
        room = self.settings.context - len(tokens)
        if room < 1:
            raise GenerationFailed(f"the text is too long for the model's context "
                                   f"({len(tokens)} of {self.settings.context} tokens)")
        deadline = time.monotonic() + self.settings.timeout_s
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        eog = end_of_generation(llm)
        made: list[int] = []
        try:
            for token in llm.generate(tokens, temp=self.settings.temperature,
                                      top_p=self.settings.top_p, top_k=40, min_p=0.05,
                                      repeat_penalty=1.0, reset=True):
                if generation._stop:
                    return generation._stop
                if time.monotonic() > deadline:
                    return "timeout"
                if eog(token):
                    break
                piece = decoder.decode(llm.detokenize([token]))
                made.append(token)
                generation.produced += 1
                if piece:
                    self.reactor.callFromThread(generation._deliver, piece)
                if len(made) >= min(generation.max_tokens, room - 1):
                    break
        except (RuntimeError, MemoryError) as e:  # llama_decode failed: out of memory, …
            raise GenerationFailed(str(e) or type(e).__name__) from None
        tail = decoder.decode(b"", final=True)
        if tail:
            self.reactor.callFromThread(generation._deliver, tail)
        return "done"

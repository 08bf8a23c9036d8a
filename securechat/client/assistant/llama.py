"""llama.cpp as the assistant uses it (called in the service's worker thread): checking
and loading a model file, the model's chat template, its end-of-generation tokens."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from typing import Any

from securechat.client.assistant.errors import DeviceUnsupported, GenerationFailed, ModelMissing

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def check_model_file(path: str | None) -> None:
    """ModelMissing or DeviceUnsupported before llama.cpp sees the file."""
    if not path:
        raise ModelMissing("no model is chosen: download one or choose a .gguf file in "
                           "the assistant's settings")
    if not os.path.isfile(path):
        raise ModelMissing(f"the model file {path} does not exist")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"GGUF":
        raise DeviceUnsupported(f"{os.path.basename(path)} is not a GGUF model file")


def load_model(path: str | None, context: int, threads: int) -> Any:
    """A llama_cpp.Llama for `path` (in the worker thread), or DeviceUnsupported."""
    check_model_file(path)
    try:
        import llama_cpp
    except ImportError as e:
        raise DeviceUnsupported(f"llama.cpp is not installed here ({e}); install "
                                "securechat[ai]") from None
    try:
        return llama_cpp.Llama(model_path=path, n_ctx=context, n_threads=threads,
                               n_threads_batch=threads, verbose=False)
    except (ValueError, RuntimeError, MemoryError, OSError) as e:
        raise DeviceUnsupported(f"llama.cpp cannot load {os.path.basename(str(path))}: "
                                f"{e or type(e).__name__} (damaged, an unknown "
                                "architecture, or not enough memory)") from None


def _token_text(llm: Any, token: int) -> str:
    if token < 0:
        return ""
    return llm.detokenize([token], special=True).decode("utf-8", "replace")


def starts_with_bos(llm: Any, prompt: str) -> bool:
    bos = _token_text(llm, llm.token_bos())
    return bool(bos) and prompt.startswith(bos)


def end_of_generation(llm: Any) -> Callable[[int], bool]:
    import llama_cpp
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    return lambda token: bool(llama_cpp.llama_vocab_is_eog(vocab, token))


@functools.lru_cache(maxsize=4)
def _compiled(template: str) -> Any:
    """A chat template compiled once (compiling takes milliseconds: not per request)."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def refuse(message: str) -> None:
        raise GenerationFailed(f"the model's chat template refused the prompt: {message}")

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = refuse
    env.globals["strftime_now"] = lambda fmt: time.strftime(fmt)
    return env.from_string(template)


def render_prompt(llm: Any, messages: list[Message]) -> str:
    """The prompt as the model's chat template renders `messages` (thinking off, for
    models that think), ending where the assistant's answer starts."""
    template = llm.metadata.get("tokenizer.chat_template") or CHATML
    return _compiled(template).render(
        messages=messages, add_generation_prompt=True, enable_thinking=False,
        bos_token=_token_text(llm, llm.token_bos()), eos_token=_token_text(llm, llm.token_eos()))

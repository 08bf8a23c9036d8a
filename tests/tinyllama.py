"""A tiny llama-architecture GGUF whose next token is set by hand: tests build it.

    write_model(path, script=["a", "b", "c"])          -> generates "abc", then stops
    write_model(path, script=list("0123456789"), loop=True)  -> "0123456789012…" for ever

The model is real for llama.cpp (2 layers, 64 wide, a SentencePiece-style vocabulary with
the 256 byte tokens, ChatML control tokens and a ChatML `tokenizer.chat_template`; about
0.5 MB of float32) but its weights make it a bigram table: every attention and
feed-forward projection is zero, so the last hidden state is the last token's embedding,
and the output matrix maps each token's embedding to the token that should follow it.

A chat prompt always ends with "<|im_start|>assistant\\n", so generation starts from the
newline byte: "\\n" → script[0] → script[1] → … → <|im_end|> (the end-of-generation token),
or back to script[0] with `loop`. Every script piece is its own vocabulary token (spaces
written as SentencePiece's "▁"), so the pieces come out exactly, one token each.

With a margin of many logits between the intended token and any other, sampling at the
service's temperatures picks the intended token every time (checked when writing).
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
from collections.abc import Callable

import gguf
import numpy as np

EMBED = 64
LAYERS = 2
HEADS = 4
FFN = 128
CONTEXT = 4096
MAX_PIECE = 32
SCALE = 6.0  # logit of the intended next token: 8 (the RMS norm) * SCALE * cos = 1

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

UNK, BOS, EOS_S, IM_START, IM_END = range(5)
SPECIAL = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
FIRST_BYTE = len(SPECIAL)
NEWLINE = FIRST_BYTE + ord("\n")


def vocabulary(script: list[str]) -> tuple[list[str], list[int], dict[str, int]]:
    """(token texts, token types, script piece → token id)."""
    tokens = list(SPECIAL) + [f"<0x{b:02X}>" for b in range(256)]
    types = ([gguf.TokenType.UNKNOWN] + [gguf.TokenType.CONTROL] * 4
             + [gguf.TokenType.BYTE] * 256)
    ids: dict[str, int] = {}
    for piece in script:
        if len(piece.encode()) > MAX_PIECE:
            raise ValueError(f"llama-cpp-python detokenizes at most {MAX_PIECE} bytes a token")
        if piece in ids:
            raise ValueError(f"a script piece must be unique (a bigram model): {piece!r}")
        ids[piece] = len(tokens)
        tokens.append(piece.replace(" ", "\u2581"))
        types.append(gguf.TokenType.NORMAL)
    return tokens, [int(t) for t in types], ids


def write_model(path: str, script: list[str], loop: bool = False, seed: int = 7,
                context: int = CONTEXT) -> str:
    tokens, types, ids = vocabulary(script)
    chain = [NEWLINE] + [ids[p] for p in script] + ([ids[script[0]]] if loop else [IM_END])
    following = dict(itertools.pairwise(chain))  # token -> the token that follows it
    rng = np.random.default_rng(seed)
    embed = rng.standard_normal((len(tokens), EMBED)).astype(np.float32)
    embed /= np.linalg.norm(embed, axis=1, keepdims=True)
    output = np.zeros((len(tokens), EMBED), dtype=np.float32)
    for before, after in following.items():
        output[after] += SCALE * embed[before]
    _check_margin(embed, output, following)

    return _write_llama(path, "securechat-tiny-test", tokens, types, embed, output,
                        layers=LAYERS, heads=HEADS, kv_heads=HEADS, ffn=FFN, context=context,
                        file_type=gguf.LlamaFileType.ALL_F32,
                        matrix=lambda *shape: np.zeros(shape, np.float32))


def _write_llama(path: str, name: str, tokens: list[str], types: list[int],
                 embeddings: np.ndarray, output: np.ndarray, *, layers: int, heads: int,
                 kv_heads: int, ffn: int, context: int, file_type: int,
                 matrix: Callable[..., np.ndarray]) -> str:
    """A llama GGUF with this vocabulary (ChatML), embeddings and output matrix; every
    block's projections from `matrix(rows, columns)`, its norms ones."""
    embed = embeddings.shape[1]
    head_dim = embed // heads
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name(name)
    writer.add_context_length(context)
    writer.add_embedding_length(embed)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_dimension_count(head_dim)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(file_type)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * len(tokens))
    writer.add_token_types(types)
    writer.add_bos_token_id(BOS)
    writer.add_eos_token_id(IM_END)
    writer.add_unk_token_id(UNK)
    writer.add_add_bos_token(False)
    writer.add_add_space_prefix(False)
    writer.add_chat_template(CHATML)
    ones = np.ones(embed, dtype=np.float32)
    writer.add_tensor("token_embd.weight", embeddings)
    writer.add_tensor("output_norm.weight", ones)
    writer.add_tensor("output.weight", output)
    shapes = {"attn_q": (embed, embed), "attn_k": (kv_heads * head_dim, embed),
              "attn_v": (kv_heads * head_dim, embed), "attn_output": (embed, embed),
              "ffn_gate": (ffn, embed), "ffn_up": (ffn, embed), "ffn_down": (embed, ffn)}
    for i in range(layers):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", ones)
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", ones)
        for tensor, shape in shapes.items():
            writer.add_tensor(f"blk.{i}.{tensor}.weight", matrix(*shape))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _check_margin(embed: np.ndarray, output: np.ndarray, following: dict[int, int]) -> None:
    """The intended next token must beat every other by a wide margin of logits."""
    for before, after in following.items():
        logits = output @ (embed[before] * np.sqrt(EMBED))  # RMS norm of a unit vector
        intended = logits[after]
        logits[after] = -np.inf
        if intended - logits.max() < 12.0:
            raise AssertionError("the random embeddings are too close: change the seed")


def expected_text(script: list[str]) -> str:
    return "".join(script)


# --- the models the tests use, written once per test run -----------------------------------

ALPHABET = list("abcdefghijklmnopqrstuvwxyz")
DIGITS = list("0123456789")  # with loop: never stops by itself
REPLIES = ["Positive: Sounds good!\n", "Negative: Can't, sorry.\n", "Question: What time?"]
BULLETS = ["- Bob asked for the report\n", "- Alice sends it on Friday"]
SCRIPTS = {"alphabet": (ALPHABET, False), "endless": (DIGITS, True),
           "replies": (REPLIES, False), "bullets": (BULLETS, False)}
_written: dict[str, str] = {}
_directory: list[str] = []


def model(name: str) -> str:
    """The path of a test model (see SCRIPTS), written at its first use in this run."""
    if name not in _written:
        if not _directory:
            _directory.append(tempfile.mkdtemp(prefix="securechat-tinyllama-"))
            atexit.register(shutil.rmtree, _directory[0], True)
        script, loop = SCRIPTS[name]
        path = os.path.join(_directory[0], f"{name}.gguf")
        # A long context for the endless model: it must still be running while a test
        # does other things (it stops at the context's end).
        _written[name] = write_model(path, script, loop,
                                     context=32768 if loop else CONTEXT)
    return _written[name]


def corrupt_model(path: str) -> str:
    """A file that starts like a GGUF model and is then garbage."""
    with open(path, "wb") as f:
        f.write(b"GGUF" + b"\x03\x00\x00\x00" + os.urandom(4096))
    return path


def write_random_model(path: str, embed: int, layers: int, heads: int, kv_heads: int,
                       ffn: int, vocab: int, context: int = 4096, seed: int = 1) -> str:
    """A llama-architecture GGUF of any shape with random float16 weights (for timing:
    its text is noise). Same vocabulary layout as `write_model`, padded with filler
    tokens to `vocab`."""
    filler = [f"t{i}" for i in range(vocab - FIRST_BYTE - 256)]
    tokens, types, _ = vocabulary(filler)
    rng = np.random.default_rng(seed)

    def weights(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float16)

    return _write_llama(path, "securechat-random-bench", tokens, types,
                        weights(len(tokens), embed), weights(len(tokens), embed),
                        layers=layers, heads=heads, kv_heads=kv_heads, ffn=ffn,
                        context=context, file_type=gguf.LlamaFileType.MOSTLY_F16,
                        matrix=weights)

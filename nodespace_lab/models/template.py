"""Chat formatting with Jinja2 chat templates (Gemma 3's by default).

llama-cpp-python's `chat_format="gemma"` silently drops system messages, so we
render the template ourselves: the model's own `tokenizer.chat_template` when
its GGUF has one (an instruction-tuned model), else Gemma 3's official template
(the packaged base model has none). Gemma 3 has no system role: the system text
is folded into the first user turn.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from ..errors import ValidationError
from .backend import Message

if TYPE_CHECKING:
    import jinja2

# Google's template for Gemma 3 (tokenizer_config.json of the -it models), verbatim.
GEMMA3_TEMPLATE = """{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\\n\\n' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>\\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\\n'}}
{%- endif -%}
"""

# A model that opens a new turn has ended its own, so `<start_of_turn>` stops too.
GEMMA3_STOP = ("<end_of_turn>", "<eos>", "<start_of_turn>")
# End-of-turn markers of common template families, recognised in a model's own template.
_KNOWN_END_MARKERS = ("<end_of_turn>", "<|im_end|>", "<|eot_id|>", "<|end|>", "<|endoftext|>")


def format_chat(
    messages: Sequence[Message],
    template: str | None = None,
    *,
    bos_token: str = "",
    eos_token: str = "",
    add_generation_prompt: bool = True,
) -> str:
    """Render `messages` as a prompt with `template` (default: Gemma 3's).

    `bos_token` is empty by default because llama.cpp adds the BOS token itself
    when it tokenizes; pass the model's BOS text to get the full prompt instead.
    """
    if not messages:
        raise ValidationError("A chat needs at least one message; got none.")
    compiled = _compile(template or GEMMA3_TEMPLATE)
    turns = [{"role": message.role, "content": message.content} for message in messages]
    try:
        return compiled.render(
            messages=turns,
            bos_token=bos_token,
            eos_token=eos_token,
            add_generation_prompt=add_generation_prompt,
        )
    except (_TemplateError, _jinja_error()) as error:
        roles = "/".join(message.role for message in messages)
        raise ValidationError(
            f"The chat template refused the conversation ({roles}): {error}. After an "
            "optional system message, turns must alternate user/assistant, starting with user."
        ) from error


def strip_bos(prompt: str, bos_token: str) -> str:
    """`prompt` without a leading BOS text (llama.cpp adds the BOS token itself)."""
    if bos_token and prompt.startswith(bos_token):
        return prompt[len(bos_token) :]
    return prompt


def stop_strings(template: str | None = None, eos_token: str = "") -> tuple[str, ...]:
    """Strings that end an assistant turn for `template` (default: Gemma 3's)."""
    if template is None:
        return GEMMA3_STOP
    found = [marker for marker in _KNOWN_END_MARKERS if marker in template]
    if eos_token and eos_token not in found:
        found.append(eos_token)
    return tuple(found)


def _jinja_error() -> type[Exception]:
    import jinja2

    return jinja2.TemplateError


class _TemplateError(Exception):
    """Raised by a template's `raise_exception()`."""


def _raise_exception(message: str) -> NoReturn:
    raise _TemplateError(message)


def _strftime_now(format: str) -> str:
    import datetime as dt

    return dt.datetime.now().strftime(format)


@functools.lru_cache(maxsize=8)
def _compile(source: str) -> jinja2.Template:
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    # The settings Hugging Face uses for chat templates, so models' own templates
    # render the same here; sandboxed because the template comes from a model file.
    environment = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
    )
    environment.globals["raise_exception"] = _raise_exception
    environment.globals["strftime_now"] = _strftime_now
    try:
        return environment.from_string(source)
    except jinja2.TemplateError as error:
        raise ValidationError(
            f"The chat template cannot be compiled ({error}); fix the model's "
            "tokenizer.chat_template or use a model without one (Gemma 3's is used then)."
        ) from error


class StopMatcher:
    """Cuts a stream of text at the first stop string, never emitting part of one.

    Text that could be the start of a stop string is held back until the next
    piece shows whether it is; `flush()` releases it when the stream ends.
    """

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = tuple(dict.fromkeys(stop for stop in stops if stop))
        self._pending = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        """The text that is safe to emit now; sets `stopped` at a stop string."""
        if not self._stops:
            return text
        if self.stopped:
            return ""
        pending = self._pending + text
        cut = min((at for stop in self._stops if (at := pending.find(stop)) >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            self._pending = ""
            return pending[:cut]
        held = self._held(pending)
        self._pending = pending[len(pending) - held :]
        return pending[: len(pending) - held]

    def flush(self) -> str:
        """Text held back at the end of the stream (no stop string followed)."""
        pending, self._pending = self._pending, ""
        return "" if self.stopped else pending

    def _held(self, text: str) -> int:
        # Length of the longest end of `text` that begins some stop string.
        longest = 0
        for stop in self._stops:
            for size in range(min(len(stop) - 1, len(text)), longest, -1):
                if text.endswith(stop[:size]):
                    longest = size
                    break
        return longest

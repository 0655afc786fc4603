"""A scripted chat model for tests, evals and benchmarks: no network, replies decided by a function.

It streams like a real provider: content word by word, tool-call arguments in small pieces, usage on the
last chunk. `bind_tools` returns the model itself (the script decides whether to call the tool).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field, SkipValidation

__all__ = ["ScriptedChatModel", "answer_call", "grounded_answer"]

Reply = AIMessage | str | BaseException
Responder = Callable[[list[BaseMessage]], Reply]


def answer_call(text: str, *, answerable: bool = True, confidence: float = 0.9) -> AIMessage:
    """An AIMessage calling the Answer tool, as a provider with structured output would send it."""
    args = {"text": text, "citations": [], "answerable": answerable, "confidence": confidence}
    return AIMessage(
        content="", tool_calls=[{"name": "Answer", "args": args, "id": f"c{uuid.uuid4().hex[:8]}"}]
    )


_PASSAGE = re.compile(r'<passage n="(\d+)"[^>]*>\n(.*?)\n</passage>', re.S)


def grounded_answer(messages: list[BaseMessage]) -> Reply:
    """Answer from the first passage in the prompt: its first sentence, cited [1].

    Without passages it plays the other prompts: a query rewrite returns the latest message as asked, a
    history summary returns a fixed sentence.
    """
    last = str(messages[-1].content) if messages else ""
    found = _PASSAGE.findall(last)
    if not found:
        latest = re.search(r"^Latest message: (.*)$", last, re.M)
        if latest:
            return latest.group(1).strip()
        return "The customer asked earlier questions about their order."
    lines = [line.strip(" -*#>") for line in found[0][1].splitlines() if len(line.split()) >= 4]
    first = re.split(r"(?<=[.!?])\s+", lines[0] if lines else found[0][1].strip())[0]
    return answer_call(f"{first} [{found[0][0]}]")


def _usage(messages: list[BaseMessage], message: AIMessage) -> UsageMetadata:
    """Token counts as a provider would report them (~4 characters a token)."""
    content = message.content if isinstance(message.content, str) else ""
    inp = sum(len(str(m.content)) for m in messages) // 4
    out = (len(content) + sum(len(json.dumps(c["args"])) for c in message.tool_calls)) // 4
    return {"input_tokens": inp, "output_tokens": out, "total_tokens": inp + out}


class ScriptedChatModel(BaseChatModel):
    """Replies come from `script` (a list, consumed in order) or `responder` (a function of the prompt)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    # Not validated: pydantic would try each str or exception as an AIMessage, whose validator then crashes.
    script: SkipValidation[list[Reply]] = Field(default_factory=list)
    responder: Responder | None = None
    latency_s: float = 0.0
    """Waited before the first chunk (a slow provider)."""
    calls: int = 0
    prompts: list[list[BaseMessage]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:  # type: ignore[override]
        return self

    def _next(self, messages: list[BaseMessage]) -> AIMessage:
        self.calls += 1
        self.prompts.append(list(messages))
        if self.script:
            reply: Reply = self.script.pop(0)
        elif self.responder is not None:
            reply = self.responder(messages)
        else:
            raise RuntimeError("the scripted model has no reply left")
        if self.latency_s:
            time.sleep(self.latency_s)
        if isinstance(reply, BaseException):
            raise reply
        return AIMessage(content=reply) if isinstance(reply, str) else reply

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        message = self._next(messages)
        if message.usage_metadata is None:  # providers report usage in the body, as `_stream` does last
            message = message.model_copy(update={"usage_metadata": _usage(messages, message)})
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        message = self._next(messages)
        content = message.content if isinstance(message.content, str) else ""
        for token in re.split(r"(\s)", content):
            if token:
                yield ChatGenerationChunk(message=AIMessageChunk(content=token))
        for index, call in enumerate(message.tool_calls):
            args = json.dumps(call["args"])
            for start in range(0, len(args), 8):
                yield ChatGenerationChunk(
                    message=AIMessageChunk(
                        content="",
                        tool_call_chunks=[
                            {
                                "name": call["name"] if start == 0 else None,
                                "args": args[start : start + 8],
                                "id": call.get("id") if start == 0 else None,
                                "index": index,
                            }
                        ],
                    )
                )
        yield ChatGenerationChunk(
            message=AIMessageChunk(content="", usage_metadata=_usage(messages, message))
        )

"""The app's functions as the host indexes them, and how one is invoked with its bindings."""
from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azure.functions as func

logger = logging.getLogger(__name__)

HTTP_TRIGGER, HTTP_OUT = "httpTrigger", "http"
TIMER_TRIGGER = "timerTrigger"
QUEUE_TRIGGER, QUEUE_OUT = "queueTrigger", "queue"
SUPPORTED_BINDINGS = {HTTP_TRIGGER, HTTP_OUT, TIMER_TRIGGER, QUEUE_TRIGGER, QUEUE_OUT}
RETURN = "$return"


class IndexingError(ValueError):
    """A function the host would refuse to load (the worker reports these at start too)."""


def _plain(value: Any) -> Any:
    """Binding dicts hold StringifyEnums; the host sees their JSON values."""
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return getattr(value, "value", value)


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    user_function: Callable[..., Any]
    trigger: Mapping[str, Any]
    outputs: tuple[Mapping[str, Any], ...]
    wants_context: bool
    directory: str = field(default=".")

    @property
    def trigger_type(self) -> str:
        return str(self.trigger["type"])

    @classmethod
    def from_function(cls, function: Any) -> "FunctionSpec":
        """Read an `azure.functions` Function (from `app.get_functions()`) and check it can run here."""
        name = function.get_function_name()
        bindings = [{k: _plain(v) for k, v in b.get_dict_repr().items()} for b in function.get_bindings()]
        trigger_obj = function.get_trigger()
        trigger = next(b for b in bindings
                       if b.get("name") == trigger_obj.name and b["type"] == trigger_obj.type)
        unsupported = sorted({b["type"] for b in bindings} - SUPPORTED_BINDINGS)
        if unsupported:
            raise IndexingError(f"the devserver does not run binding type(s) {', '.join(unsupported)}")
        user_function = function.get_user_function()
        declared = set(inspect.signature(user_function).parameters)
        inputs = {b["name"] for b in bindings if b["name"] != RETURN and b["direction"] == 0}
        outputs = tuple(b for b in bindings if b["direction"] == 1)
        out_params = {b["name"] for b in outputs if b["name"] != RETURN}
        expected = inputs | out_params
        missing = sorted(expected - declared)
        unknown = sorted(declared - expected - {"context"})
        if missing or unknown:
            raise IndexingError(
                "its parameters do not match its bindings"
                + (f"; bindings without a parameter: {', '.join(missing)}" if missing else "")
                + (f"; parameters without a binding: {', '.join(unknown)}" if unknown else "")
            )
        script = getattr(function, "function_script_file", "") or ""
        return cls(
            name=name,
            user_function=user_function,
            trigger=trigger,
            outputs=outputs,
            wants_context="context" in declared,
            directory=str(Path(script).resolve().parent) if script else ".",
        )


class Out(func.Out):
    """What an output-binding parameter receives: the function calls `.set(value)`."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        self._value = val

    def get(self) -> Any:
        return self._value


# azure.functions exports no TraceContext or RetryContext type. These plain objects answer both to the names
# its abstract Context documents (trace_parent, exception...) and to those the Python worker's objects use
# (Traceparent, rpc_exception...), so a function written against either runs here.
@dataclass(frozen=True)
class TraceContext:
    trace_parent: str = ""
    trace_state: str = ""
    attributes: Mapping[str, str] = field(default_factory=dict)

    Traceparent = property(lambda self: self.trace_parent)
    Tracestate = property(lambda self: self.trace_state)
    Attributes = property(lambda self: self.attributes)


@dataclass(frozen=True)
class RetryContext:
    retry_count: int = 0
    max_retry_count: int = 0
    exception: Any = None

    rpc_exception = property(lambda self: self.exception)


class Context(func.Context):
    _local = threading.local()

    def __init__(self, spec: FunctionSpec) -> None:
        self._invocation_id = str(uuid.uuid4())
        self._spec = spec

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        return self._local

    @property
    def function_name(self) -> str:
        return self._spec.name

    @property
    def function_directory(self) -> str:
        return self._spec.directory

    @property
    def trace_context(self) -> TraceContext:
        return TraceContext()

    @property
    def retry_context(self) -> RetryContext:
        return RetryContext()


@dataclass(frozen=True)
class Outcome:
    """What the function produced: its return value and the values set on its output parameters."""

    returned: Any
    outputs: Mapping[str, Any]

    def value_for(self, binding: Mapping[str, Any]) -> Any:
        return self.returned if binding["name"] == RETURN else self.outputs.get(binding["name"])


def invoke(spec: FunctionSpec, trigger_value: Any) -> Outcome:
    """Call the user function in this thread (a coroutine runs to completion on its own event loop)."""
    kwargs: dict[str, Any] = {str(spec.trigger["name"]): trigger_value}
    outs = {str(b["name"]): Out() for b in spec.outputs if b["name"] != RETURN}
    kwargs.update(outs)
    if spec.wants_context:
        kwargs["context"] = Context(spec)
    result = spec.user_function(**kwargs)
    if inspect.isawaitable(result):
        result = asyncio.run(_await(result))
    return Outcome(returned=result, outputs={name: out.get() for name, out in outs.items()})


async def _await(awaitable: Any) -> Any:
    return await awaitable

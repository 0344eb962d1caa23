"""The app's functions as the host indexes them: each one's trigger, and how it is called."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

HTTP_TRIGGER = "httpTrigger"
TIMER_TRIGGER = "timerTrigger"
QUEUE_TRIGGER = "queueTrigger"
_HTTP_RETURN = {"type": "http", "name": "$return"}  # an HTTP function's response: its return value


def _plain(value: Any) -> Any:
    """Binding dicts hold enums (methods, direction); the host sees their JSON values."""
    return [_plain(v) for v in value] if isinstance(value, list | tuple) else getattr(value, "value", value)


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    user_function: Callable[..., Any]
    trigger: Mapping[str, Any]

    @property
    def trigger_type(self) -> str:
        return str(self.trigger["type"])

    @classmethod
    def from_function(cls, function: Any) -> FunctionSpec:
        """Read an `azure.functions` Function (from `app.get_functions()`); ValueError for what this host cannot run."""
        bindings = [{k: _plain(v) for k, v in b.get_dict_repr().items()} for b in function.get_bindings()]
        trigger = next(b for b in bindings if b["type"].endswith("Trigger"))
        others = [b for b in bindings if b is not trigger and {k: b.get(k) for k in _HTTP_RETURN} != _HTTP_RETURN]
        if others or trigger["type"] not in {HTTP_TRIGGER, TIMER_TRIGGER, QUEUE_TRIGGER}:
            kinds = ", ".join(sorted({b["type"] for b in others} | {trigger["type"]}))
            raise ValueError(f"the local host runs HTTP, timer and queue triggers without other bindings, not {kinds}")
        return cls(function.get_function_name(), function.get_user_function(), trigger)

    def __call__(self, trigger_value: Any) -> Any:
        return self.user_function(**{str(self.trigger["name"]): trigger_value})

"""The app's registered functions, read once: FunctionApp.get_functions() may be called once per app."""
from __future__ import annotations

import functools

import function_app


@functools.cache
def registered_functions() -> tuple:
    return tuple(function_app.app.get_functions())


def http_operations() -> dict[tuple[str, str], object]:
    """(route, METHOD) -> auth level of every HTTP-triggered function."""
    operations = {}
    for function in registered_functions():
        trigger = function.get_trigger()
        if trigger.get_binding_name() != "httpTrigger":
            continue
        for method in trigger.methods:
            key = (trigger.route, method.value)
            assert key not in operations, f"{key} registered twice"
            operations[key] = trigger.auth_level
    return operations

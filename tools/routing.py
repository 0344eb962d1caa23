"""HTTP routes as the Functions host matches them (in registration order), for the templates the app uses:
literal segments (compared ignoring case) and whole-segment parameters `{name}`, optionally `{name:minlength(n)}` /
`{name:maxlength(n)}` and, in the last segment, optional (`{name?}`).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

_PARAMETER = re.compile(r"\{(\w+)((?::\w+(?:\(\d+\))?)*)(\?)?\}")
_CONSTRAINT = re.compile(r":(\w+)(?:\((\d+)\))?")
_LENGTH_CHECKS: dict[str, Callable[[int, int], bool]] = {
    "minlength": lambda length, bound: length >= bound,
    "maxlength": lambda length, bound: length <= bound,
}


class RouteError(ValueError):
    """A route the host refuses at start-up."""


@dataclass(frozen=True)
class Segment:
    literal: str = ""
    name: str | None = None  # a parameter's name; None for a literal
    bounds: tuple[tuple[str, int], ...] = ()
    optional: bool = False

    def value(self, part: str) -> str | None:
        """The parameter's value in `part` ("" for a literal that matches); None when it does not fit."""
        if self.name is None:
            return "" if part.lower() == self.literal.lower() else None
        fits = part != "" and all(_LENGTH_CHECKS[kind](len(part), bound) for kind, bound in self.bounds)
        return part if fits else None


def _segment(raw: str, template: str) -> Segment:
    if "{" not in raw and "}" not in raw:
        return Segment(literal=raw)
    match = _PARAMETER.fullmatch(raw)
    bounds = tuple((kind.lower(), int(bound or -1)) for kind, bound in _CONSTRAINT.findall(match.group(2))) \
        if match else ()
    if match is None or any(kind not in _LENGTH_CHECKS or bound < 0 for kind, bound in bounds):
        raise RouteError(f"Route '{template}': the local host reads literal segments and whole-segment parameters "
                         f"('{{name}}', '{{name:maxlength(n)?}}'), not '{raw}'.")
    return Segment(name=match.group(1), bounds=bounds, optional=bool(match.group(3)))


@dataclass(frozen=True)
class Route:
    name: str  # the function's
    template: str  # with the route prefix
    methods: frozenset[str] | None  # None: every method
    target: Any
    segments: tuple[Segment, ...]

    def match(self, method: str, parts: list[str]) -> dict[str, str] | None:
        """Route values for this method and these path segments, or None when the route does not fit."""
        shortest = len(self.segments) - (1 if self.segments and self.segments[-1].optional else 0)
        if self.methods is not None and method.upper() not in self.methods or \
                not shortest <= len(parts) <= len(self.segments):
            return None
        values = {}
        for segment, part in zip(self.segments, parts, strict=False):
            value = segment.value(part)
            if value is None:
                return None
            if segment.name is not None:
                values[segment.name] = value
        return values


@dataclass(frozen=True)
class Matched:
    route: Route
    values: Mapping[str, str]


def split_path(path: str) -> list[str]:
    """Path segments, each percent-decoded except `%2F`, which stays as sent (as in Kestrel); one trailing '/'
    is ignored, and so is a query string."""
    text = path.split("?", 1)[0].removeprefix("/").removesuffix("/")
    return [unquote(part.replace("%2F", "%252F").replace("%2f", "%252f")) for part in text.split("/")] if text else []


class RouteTable:
    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix.strip("/")
        self.routes: list[Route] = []

    def add(self, name: str, route: str | None, methods: Iterable[str] | None, target: Any) -> Route:
        """Register a function's route (its name when it has none); raises RouteError as the host refuses it."""
        route = (route or name).strip("/")
        if route.lower().startswith(("admin", "runtime")):
            raise RouteError(f"the route '{route}' conflicts with the host's built-in routes (admin..., runtime...).")
        template = f"{self.prefix}/{route}" if self.prefix else route
        allowed = frozenset(m.upper() for m in methods) if methods else None
        segments = tuple(_segment(raw, template) for raw in template.split("/")) if template else ()
        if any(segment.optional for segment in segments[:-1]):
            raise RouteError(f"Route '{template}': only the last segment may be optional.")
        for other in self.routes:
            if other.template.lower() == template.lower() and (not allowed or not other.methods or
                                                               allowed & other.methods):
                raise RouteError(f"the route '{route}' conflicts with the route of function '{other.name}' (same "
                                 "template, a method in common).")
        self.routes.append(Route(name, template, allowed, target, segments))
        return self.routes[-1]

    def resolve(self, method: str, path: str) -> Matched | None:
        """The first route, in registration order, that takes this method and path."""
        parts = split_path(path)
        for route in self.routes:
            values = route.match(method, parts)
            if values is not None:
                return Matched(route, values)
        return None

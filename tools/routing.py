"""Route templates as the Functions host reads them (ASP.NET Core routing), and the route table.

Supported per segment: literals (case-insensitive), `{name}`, `{name:constraint(...)}` (several
constraints may be chained), `{name?}`, `{name=default}`, `{*rest}` / `{**rest}`, and complex
segments such as `{name}.{ext}`. When several routes match a path, the most specific wins, scored
per segment as ASP.NET's inbound route precedence does: literal < complex or constrained parameter
< parameter < constrained catch-all < catch-all. So `POST api/status/verify` goes to that literal
route, never to `api/status/{customerId}`.
"""
from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Generic, TypeVar
from urllib.parse import unquote

logger = logging.getLogger(__name__)

T = TypeVar("T")


class RouteTemplateError(ValueError):
    """A route template the host would refuse to index."""


# --- constraints -----------------------------------------------------------------------------------

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_INTEGER = re.compile(r"[+-]?\d+\Z")


def _int_in(value: str, bounds: tuple[int, int]) -> bool:
    return bool(_INTEGER.match(value)) and bounds[0] <= int(value) <= bounds[1]


def _is_decimal(value: str) -> bool:
    try:
        Decimal(value)
    except InvalidOperation:
        return False
    return value.strip() == value and value.lower() not in {"nan", "inf", "-inf", "+inf", "infinity"}


def _is_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return value.strip() == value


def _is_guid(value: str) -> bool:
    # .NET Guid.TryParse accepts the bare, hyphenated, braced and parenthesised forms.
    inner = value[1:-1] if value[:1] + value[-1:] in {"{}", "()"} else value
    if len(inner) not in (32, 36):
        return False
    try:
        uuid.UUID(inner)
    except ValueError:
        return False
    return True


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _int_arg(name: str, args: list[str], count: int) -> list[int]:
    if len(args) != count or not all(_INTEGER.match(a.strip()) for a in args):
        raise RouteTemplateError(f"The route constraint '{name}' needs {count} whole-number argument(s).")
    return [int(a) for a in args]


Check = Callable[[str], bool]


def _constraint(name: str, raw_args: str | None) -> Check:
    """Build the check for one inline constraint, e.g. `int`, `minlength(3)`, `regex(^a+$)`."""
    key = name.lower()
    args = [] if raw_args is None else ([raw_args] if key == "regex" else raw_args.split(","))
    simple: dict[str, Check] = {
        "int": lambda v: _int_in(v, _INT32),
        "long": lambda v: _int_in(v, _INT64),
        "bool": lambda v: v.lower() in {"true", "false"},
        "decimal": _is_decimal,
        "double": _is_float,
        "float": _is_float,
        "guid": _is_guid,
        "datetime": _is_datetime,
        "alpha": lambda v: bool(re.fullmatch(r"[A-Za-z]+", v)),
        "required": lambda v: v != "",
        "file": lambda v: "." in v.rsplit("/", 1)[-1].strip(".") if v else False,
        "nonfile": lambda v: "." not in v.rsplit("/", 1)[-1].strip(".") if v else True,
    }
    if key in simple:
        if raw_args is not None:
            raise RouteTemplateError(f"The route constraint '{name}' takes no arguments.")
        return simple[key]
    if key == "minlength":
        (low,) = _int_arg(name, args, 1)
        return lambda v: len(v) >= low
    if key == "maxlength":
        (high,) = _int_arg(name, args, 1)
        return lambda v: len(v) <= high
    if key == "length":
        bounds = _int_arg(name, args, 2) if len(args) == 2 else _int_arg(name, args, 1) * 2
        return lambda v: bounds[0] <= len(v) <= bounds[1]
    if key == "min":
        (low,) = _int_arg(name, args, 1)
        return lambda v: _int_in(v, _INT64) and int(v) >= low
    if key == "max":
        (high,) = _int_arg(name, args, 1)
        return lambda v: _int_in(v, _INT64) and int(v) <= high
    if key == "range":
        low, high = _int_arg(name, args, 2)
        return lambda v: _int_in(v, _INT64) and low <= int(v) <= high
    if key == "regex":
        if not args:
            raise RouteTemplateError("The route constraint 'regex' needs a pattern.")
        try:
            # ASP.NET uses IsMatch (a search, not a full match), ignoring case.
            pattern = re.compile(args[0], re.IGNORECASE)
        except re.error as exc:
            raise RouteTemplateError(f"The route constraint regex({args[0]}) is not a valid pattern: {exc}.") from None
        return lambda v: pattern.search(v) is not None
    raise RouteTemplateError(f"The route constraint '{name}' is not known.")


# --- template parsing ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Parameter:
    name: str
    checks: tuple[Check, ...] = ()
    optional: bool = False
    default: str | None = None
    catch_all: bool = False

    def accepts(self, value: str) -> bool:
        return all(check(value) for check in self.checks)


@dataclass(frozen=True)
class Segment:
    """One `/`-separated part: a literal, a lone parameter, or a complex mix compiled to a regex."""

    literal: str | None = None
    parameter: Parameter | None = None
    pattern: re.Pattern[str] | None = None
    parameters: tuple[Parameter, ...] = ()

    @property
    def precedence(self) -> int:
        # ASP.NET RoutePrecedence (inbound): lower digits are more specific.
        if self.literal is not None:
            return 1
        if self.pattern is not None:
            return 2
        assert self.parameter is not None
        base = 5 if self.parameter.catch_all else 3
        return base - 1 if self.parameter.checks else base


_PARAM_NAME = re.compile(r"[^{}/:?=*]+")


def _parse_parameter(inner: str, template: str) -> Parameter:
    stars = len(inner) - len(inner.lstrip("*"))
    if stars > 2:
        raise RouteTemplateError(f"Route '{template}': '{{{inner}}}' has too many '*'.")
    rest = inner[stars:]
    match = _PARAM_NAME.match(rest)
    if not match:
        raise RouteTemplateError(f"Route '{template}': '{{{inner}}}' has no parameter name.")
    name, pos = match.group(0), match.end()
    checks: list[Check] = []
    optional, default = False, None
    while pos < len(rest):
        char = rest[pos]
        if char == ":":
            cmatch = re.compile(r"[A-Za-z]+").match(rest, pos + 1)
            if not cmatch:
                raise RouteTemplateError(f"Route '{template}': an empty constraint in '{{{inner}}}'.")
            cname, pos = cmatch.group(0), cmatch.end()
            cargs = None
            if pos < len(rest) and rest[pos] == "(":
                # The argument runs to the ')' that ends this constraint (a regex may hold parentheses).
                end = _constraint_args_end(rest, pos)
                if end < 0:
                    raise RouteTemplateError(f"Route '{template}': an unclosed '(' in '{{{inner}}}'.")
                cargs, pos = rest[pos + 1:end], end + 1
            checks.append(_constraint(cname, cargs))
        elif char == "?" and pos == len(rest) - 1:
            optional, pos = True, pos + 1
        elif char == "=":
            default, pos = rest[pos + 1:], len(rest)
        else:
            raise RouteTemplateError(f"Route '{template}': cannot read '{{{inner}}}'.")
    if stars and (optional or default is not None):
        raise RouteTemplateError(f"Route '{template}': a catch-all parameter cannot be optional.")
    return Parameter(name=name, checks=tuple(checks), optional=optional, default=default,
                     catch_all=bool(stars))


def _constraint_args_end(text: str, open_at: int) -> int:
    candidates = [i for i, c in enumerate(text) if c == ")" and i > open_at]
    for index in candidates:
        after = text[index + 1:index + 2]
        if after in ("", ":", "?", "="):
            return index
    return -1


def _split_parts(raw: str, template: str) -> list[str | Parameter]:
    """A segment's text as literals and parameters; `{{` and `}}` are escaped braces."""
    parts: list[str | Parameter] = []
    literal: list[str] = []
    i = 0
    while i < len(raw):
        char = raw[i]
        if raw.startswith("{{", i) or raw.startswith("}}", i):
            literal.append(char)
            i += 2
        elif char == "{":
            j, inner = i + 1, []
            while j < len(raw):
                if raw.startswith("}}", j) or raw.startswith("{{", j):
                    inner.append(raw[j])
                    j += 2
                elif raw[j] == "}":
                    break
                else:
                    inner.append(raw[j])
                    j += 1
            if j >= len(raw):
                raise RouteTemplateError(f"Route '{template}': an unclosed '{{'.")
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(_parse_parameter("".join(inner), template))
            i = j + 1
        elif char == "}":
            raise RouteTemplateError(f"Route '{template}': an unmatched '}}'.")
        else:
            literal.append(char)
            i += 1
    if literal:
        parts.append("".join(literal))
    return parts


def _segment(raw: str, template: str) -> Segment:
    if raw == "":
        raise RouteTemplateError(f"Route '{template}': empty segments ('//') are not allowed.")
    parts = _split_parts(raw, template)
    if len(parts) == 1 and isinstance(parts[0], str):
        return Segment(literal=parts[0])
    if len(parts) == 1:
        assert isinstance(parts[0], Parameter)
        return Segment(parameter=parts[0])
    if any(isinstance(p, Parameter) and p.catch_all for p in parts):
        raise RouteTemplateError(f"Route '{template}': a catch-all parameter must be a whole segment.")
    for left, right in zip(parts, parts[1:], strict=False):
        if isinstance(left, Parameter) and isinstance(right, Parameter):
            raise RouteTemplateError(f"Route '{template}': two parameters need a literal between them.")
    # Greedy groups give ASP.NET's right-to-left result ('a.b.txt' on '{name}.{ext}': ext='txt').
    # Groups are named p0, p1, ... in order: route names need not be valid Python identifiers.
    pieces, params = [], []
    for part in parts:
        if isinstance(part, Parameter):
            pieces.append(f"(?P<p{len(params)}>.+)")
            params.append(part)
        else:
            pieces.append(re.escape(part))
    return Segment(pattern=re.compile("".join(pieces), re.IGNORECASE | re.DOTALL), parameters=tuple(params))


def parse_template(template: str) -> tuple[Segment, ...]:
    text = template.strip()
    if text.startswith("~/"):
        text = text[2:]
    text = text.strip("/")
    segments = tuple(_segment(raw, template) for raw in text.split("/")) if text else ()
    names = [s.parameter.name.lower() for s in segments if s.parameter] + [
        p.name.lower() for s in segments for p in s.parameters
    ]
    if len(names) != len(set(names)):
        raise RouteTemplateError(f"Route '{template}': a parameter name is used twice.")
    for index, seg in enumerate(segments):
        if seg.parameter and seg.parameter.catch_all and index != len(segments) - 1:
            raise RouteTemplateError(f"Route '{template}': a catch-all parameter must be the last segment.")
        if seg.parameter and seg.parameter.optional and index != len(segments) - 1:
            raise RouteTemplateError(f"Route '{template}': only the last segment may be optional.")
    return segments


_ENCODED_SLASH = re.compile(r"(%2[fF])")


def _decode(part: str) -> str:
    # Like Kestrel: decode everything but %2F, which stays as typed.
    return "".join(
        piece if _ENCODED_SLASH.fullmatch(piece) else unquote(piece, errors="strict")
        for piece in _ENCODED_SLASH.split(part)
    )


def split_path(path: str) -> list[str]:
    """Path segments, each percent-decoded on its own; one trailing '/' is ignored."""
    text = path.split("?", 1)[0].lstrip("/")
    if text.endswith("/"):
        text = text[:-1]
    return [_decode(part) for part in text.split("/")] if text else []


# --- routes and the table ------------------------------------------------------------------------

@dataclass(frozen=True)
class Route(Generic[T]):
    template: str
    methods: frozenset[str] | None  # None: every method, as when a trigger lists no methods
    target: T
    segments: tuple[Segment, ...] = field(default=())

    @classmethod
    def build(cls, template: str, methods: Iterable[str] | None, target: T) -> "Route[T]":
        allowed = None if methods is None else frozenset(m.upper() for m in methods)
        return cls(template=template, methods=allowed, target=target, segments=parse_template(template))

    @property
    def precedence(self) -> tuple[int, ...]:
        return tuple(s.precedence for s in self.segments)

    def match(self, parts: list[str]) -> dict[str, str] | None:
        """Route values for these path segments, or None when the route does not fit."""
        values: dict[str, str] = {}
        for index, seg in enumerate(self.segments):
            present = index < len(parts)
            if seg.literal is not None:
                if not present or parts[index].lower() != seg.literal.lower():
                    return None
            elif seg.parameter is not None:
                param = seg.parameter
                if param.catch_all:
                    rest = "/".join(parts[index:])
                    if rest and not param.accepts(rest):
                        return None
                    if rest:
                        values[param.name] = rest
                    return values
                if not present or parts[index] == "":
                    if param.default is not None:
                        values[param.name] = param.default
                    elif not param.optional:
                        return None
                    continue
                if not param.accepts(parts[index]):
                    return None
                values[param.name] = parts[index]
            else:
                assert seg.pattern is not None
                found = seg.pattern.fullmatch(parts[index]) if present else None
                if found is None:
                    return None
                for number, param in enumerate(seg.parameters):
                    value = found.group(f"p{number}")
                    if not param.accepts(value):
                        return None
                    values[param.name] = value
        return values if len(parts) <= len(self.segments) else None

    def allows(self, method: str) -> bool:
        return self.methods is None or method.upper() in self.methods


@dataclass(frozen=True)
class Matched(Generic[T]):
    route: Route[T]
    values: Mapping[str, str]


@dataclass(frozen=True)
class MethodNotAllowed:
    allowed: tuple[str, ...]


class RouteTable(Generic[T]):
    """Every HTTP route of the app; resolves a request to one route, a 405 or nothing (404)."""

    def __init__(self, routes: Iterable[Route[T]]) -> None:
        # Most specific first; ties go to the template text, as ASP.NET orders them.
        self._routes = sorted(routes, key=lambda r: (r.precedence, r.template.lower()))

    @property
    def routes(self) -> list[Route[T]]:
        return list(self._routes)

    def resolve(self, method: str, path: str) -> Matched[T] | MethodNotAllowed | None:
        try:
            parts = split_path(path)
        except UnicodeDecodeError:
            return None
        allowed: set[str] = set()
        for route in self._routes:
            values = route.match(parts)
            if values is None:
                continue
            if route.allows(method):
                return Matched(route, values)
            allowed.update(route.methods or ())
        return MethodNotAllowed(tuple(sorted(allowed))) if allowed else None

"""Replies as the local host writes them, and how it reads a request's framing and body.

Every error is the contract's `{"error": {"code", "message"}}`, including those http.server raises itself
(a bad request line or version, headers too large), which it would answer with an HTML page; messages never
quote the request, whose target may carry secrets.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.message import Message
from http import HTTPStatus
from typing import Any, BinaryIO

import azure.functions as func

# RFC 9110 5.6.2: a method is a token (case-sensitive, any length); anything else is no request line.
METHOD_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Not str.isdigit() or int(): both take '²' (then int() raises), and int() also takes '+1', '1_0', ' 1'.
_DIGITS = re.compile(r"[0-9]+")
_HEX_DIGITS = re.compile(rb"[0-9A-Fa-f]+")  # a chunk size; int(x, 16) also takes '-1', '+2', '0x2', '1_0'
_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "keep-alive"}

# The errors http.server detects before a request reaches the routes. Its limits: 65536 bytes for the
# request line or one header line, 100 headers.
_PROTOCOL_ERRORS = {
    400: ("invalidRequestLine", "The request line must be 'METHOD target HTTP/1.1'."),
    414: ("uriTooLong", "The request line is longer than 64 KiB."),
    431: ("requestHeadersTooLarge", "A request header is longer than 64 KiB, or there are more than 100."),
    505: ("httpVersionNotSupported", "This host speaks HTTP/1.0 and HTTP/1.1 only."),
}


class InvalidContentLength(ValueError):
    pass


class MalformedBody(ValueError):
    pass


class BodyTooLarge(Exception):
    pass


@dataclass(frozen=True)
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def error_reply(status: int, code: str, message: str, headers: Iterable[tuple[str, str]] = ()) -> Reply:
    body = json.dumps({"error": {"code": code, "message": message}}).encode("utf-8")
    return Reply(status, [("Content-Type", "application/json; charset=utf-8"), *headers], body)


def protocol_error(status: int) -> Reply:
    code, message = _PROTOCOL_ERRORS.get(status) or _from_phrase(status)
    return error_reply(status, code, message)


def _from_phrase(status: int) -> tuple[str, str]:
    phrase = reason(status) or "Request failed"
    first, *rest = re.findall(r"[A-Za-z0-9]+", phrase)
    return first.lower() + "".join(word.capitalize() for word in rest), f"{phrase}."


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def declared_length(values: Sequence[str] | None) -> int | None:
    """The body length a request's Content-Length declares, None without one; raises InvalidContentLength."""
    if not values:
        return None
    if len(values) > 1:
        # Even equal values: Kestrel refuses them too, and two parsers disagreeing on framing is smuggling.
        raise InvalidContentLength("The request has more than one Content-Length header.")
    text = values[0].strip(" \t")  # optional whitespace around a field value is not part of it (RFC 9112 5)
    if not _DIGITS.fullmatch(text):
        raise InvalidContentLength("The Content-Length header must be a number of bytes in ASCII digits.")
    return int(text)


def read_body(rfile: BinaryIO, headers: Message, *, max_body: int) -> bytes:
    """The whole body (Content-Length or chunked), as the host reads it before the function runs.

    Raises InvalidContentLength, BodyTooLarge (over `max_body` bytes) or MalformedBody.
    """
    length = declared_length(headers.get_all("Content-Length"))
    if "chunked" in (headers.get("Transfer-Encoding") or "").lower():
        return _read_chunked(rfile, max_body=max_body)
    if length is None:
        return b""
    if length > max_body:
        raise BodyTooLarge
    data = rfile.read(length)
    if len(data) != length:
        raise MalformedBody("The request body ended before its Content-Length.")
    return data


def _read_chunked(rfile: BinaryIO, *, max_body: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        line = rfile.readline(1024).split(b";", 1)[0].strip(b" \t\r\n")  # chunk extensions ignored
        if not _HEX_DIGITS.fullmatch(line):
            raise MalformedBody("The chunked request body is malformed.")
        size = int(line, 16)
        if size == 0:
            while rfile.readline(8192).strip():  # trailers, ignored
                pass
            return b"".join(chunks)
        total += size
        if total > max_body:
            raise BodyTooLarge
        chunk = rfile.read(size)
        if len(chunk) != size or rfile.read(2) != b"\r\n":
            raise MalformedBody("The chunked request body is malformed.")
        chunks.append(chunk)


def reply_from(value: Any) -> Reply:
    """Turn an HTTP output value into a response, as the Python worker's HttpResponseConverter does."""
    if isinstance(value, func.HttpResponse):
        headers = [(k, v) for k, v in value.headers.items() if k.lower() not in _HOP_BY_HOP]
        for key, val in headers:
            _check_header(key, val)
        if not any(k.lower() == "content-type" for k, _ in headers):
            mimetype = value.mimetype
            text = mimetype.startswith("text/")
            content_type = f"{mimetype}; charset={value.charset}" if text else mimetype
            headers.append(("Content-Type", content_type))
        return Reply(int(value.status_code), headers, value.get_body() or b"")
    if isinstance(value, str):
        return Reply(200, [("Content-Type", "text/plain; charset=utf-8")], value.encode("utf-8"))
    if value is None:
        return Reply(204, [], b"")
    raise TypeError(f"an HTTP function must return func.HttpResponse or str, not {type(value).__name__}")


def _check_header(key: str, value: str) -> None:
    # A header the wire cannot carry (or one that would split the response) is the function's defect.
    if any(c in f"{key}{value}" for c in "\r\n") or not key.isascii():
        raise ValueError(f"the response header {key!r} holds a line break or a non-ASCII name")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"the response header {key!r} holds characters outside Latin-1") from None

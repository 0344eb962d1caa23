"""Validate real responses against openapi.yaml, so the spec's shapes (not only its paths) stay true."""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, FormatChecker

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi.yaml"


@functools.cache
def spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC_PATH.read_text())


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def check_response(path: str, method: str, status: int, body: bytes, content_type: str | None) -> None:
    """Raise AssertionError unless the spec documents this status for the operation and the body fits it."""
    operation = spec()["paths"][path][method.lower()]
    responses = operation["responses"]
    assert str(status) in responses, f"{method} {path} answered {status}, which openapi.yaml does not document"
    response = _resolve(responses[str(status)])
    content = response.get("content")
    if not content:
        assert not body, f"{method} {path} {status} has a body the spec does not describe"
        return
    assert content_type and content_type.split(";")[0].strip() in content, (method, path, status, content_type)
    schema = content[content_type.split(";")[0].strip()]["schema"]
    # The spec's components travel with the schema so its "#/components/..." references resolve.
    validator = Draft202012Validator({**schema, "components": spec()["components"]}, format_checker=FormatChecker())
    media = content_type.split(";")[0].strip()
    document = json.loads(body) if media == "application/json" else body.decode("utf-8")
    errors = sorted(validator.iter_errors(document), key=lambda e: e.path)
    assert not errors, f"{method} {path} {status}: " + "; ".join(e.message for e in errors[:3])

"""The one map from the domain's kinds of outcome to status codes (functions/http.py), and the error JSON it answers."""
from __future__ import annotations

import json

import pytest

from functions.http import CONSENT_STATUS, ERROR_STATUS, error_response, error_status
from shared.domain import errors
from shared.domain.consent import ConsentOutcomeKind


def kinds_of(base: type) -> set[type]:
    found = set()
    for kind in base.__subclasses__():
        found |= {kind, *kinds_of(kind)}
    return found


def test_every_kind_of_error_has_a_status():
    kinds = kinds_of(errors.AppError)  # every subclass imported so far, the errors module's among them
    defined = {value for value in vars(errors).values() if isinstance(value, type) and issubclass(value, Exception)}
    assert len(defined) >= 8 and defined - {errors.AppError} <= kinds
    assert all(any(base in ERROR_STATUS for base in kind.__mro__) for kind in kinds)


def test_every_outcome_of_the_consent_callback_has_a_status():
    assert set(CONSENT_STATUS) == set(ConsentOutcomeKind)
    assert {kind: CONSENT_STATUS[kind] for kind in ConsentOutcomeKind} == {
        ConsentOutcomeKind.GRANTED: 200, ConsentOutcomeKind.DECLINED: 200, ConsentOutcomeKind.FAILED: 400,
        ConsentOutcomeKind.REFUSED: 400, ConsentOutcomeKind.TOO_LARGE: 413, ConsentOutcomeKind.UNAVAILABLE: 503}


@pytest.mark.parametrize("error, status, body", [
    (errors.InputError("invalidTenantId", "tenantId must be a GUID.", target="tenantId"), 400,
     {"code": "invalidTenantId", "message": "tenantId must be a GUID.", "target": "tenantId"}),
    (errors.InputError("invalidJson", "The request body is not valid UTF-8 JSON."), 400,
     {"code": "invalidJson", "message": "The request body is not valid UTF-8 JSON."}),
    (errors.PayloadTooLarge("payloadTooLarge", "The request body is larger than 64 KiB."), 413,
     {"code": "payloadTooLarge", "message": "The request body is larger than 64 KiB."}),
    (errors.UnsupportedMediaType("unsupportedMediaType", "JSON only."), 415,
     {"code": "unsupportedMediaType", "message": "JSON only."}),
    (errors.NotFound("No customer with customerId c1."), 404,
     {"code": "notFound", "message": "No customer with customerId c1."}),
    (errors.Conflict("modifiedConcurrently", "Changed meanwhile."), 409,
     {"code": "modifiedConcurrently", "message": "Changed meanwhile."}),
    (errors.Conflict("invalidTenantId", "The identity platform does not know the domain x."), 409,
     {"code": "invalidTenantId", "message": "The identity platform does not know the domain x."}),
    (errors.DependencyUnavailable(errors.STORAGE_UNAVAILABLE, "Storage is down."), 503,
     {"code": "storageUnavailable", "message": "Storage is down."}),
    (errors.ConfigurationError("KEY_VAULT_URL is not set."), 503,
     {"code": "serviceMisconfigured", "message": "KEY_VAULT_URL is not set."}),
])
def test_each_error_answers_its_status_with_the_contract_shape(error, status, body):
    response = error_response(error)
    assert (error_status(error), response.status_code) == (status, status)
    assert json.loads(response.get_body()) == {"error": body}  # `target` only when one field is at fault


def test_errors_keep_the_builtin_exceptions_they_are():
    assert issubclass(errors.InputError, ValueError) and issubclass(errors.NotFound, LookupError)
    assert issubclass(errors.Conflict, RuntimeError) and issubclass(errors.DependencyUnavailable, RuntimeError)
    assert str(errors.ConfigurationError("why")) == "why"

"""Settings validation and the GET/PUT /api/settings handlers over in-memory fakes."""
import json

import azure.functions as func
import pytest

from functions import parsing
from functions import provider_settings as settings_functions
from shared.domain.errors import InputError
from shared.domain.secrets import ProviderSecret

GUID = "0f6a5d1c-3b7e-4f7a-9a51-6c1c2d3e4f50"
CALLBACK = "https://tas.example.com/authenticate/OAuth2Callback"


@pytest.mark.parametrize("url", [
    CALLBACK, "https://tas.example.com:8443/authenticate/OAuth2Callback",
    "http://localhost:7071/authenticate/OAuth2Callback", "http://127.0.0.1/authenticate/OAuth2Callback",
])
def test_redirect_urls_of_the_contract_are_accepted(url):
    assert parsing.redirect_url(url) == url


@pytest.mark.parametrize("url", [
    "http://tas.example.com/authenticate/OAuth2Callback",      # plain http off loopback
    "https://tas.example.com/authenticate/oauth2callback",      # path is exact
    "https://tas.example.com/authenticate/OAuth2Callback/",
    "https://tas.example.com/api/authenticate/OAuth2Callback",
    "https://tas.example.com/authenticate/OAuth2Callback?x=1",
    "https://tas.example.com/authenticate/OAuth2Callback#frag",
    "https://user@tas.example.com/authenticate/OAuth2Callback",
    "https://tas.example.com:99999/authenticate/OAuth2Callback",
    "/authenticate/OAuth2Callback",
    "javascript:alert(1)//authenticate/OAuth2Callback",
    "ftp://tas.example.com/authenticate/OAuth2Callback",
    "https:// tas.example.com/authenticate/OAuth2Callback",
])
def test_other_redirect_urls_are_refused(url):
    with pytest.raises(InputError) as err:
        parsing.redirect_url(url)
    assert err.value.code == "invalidRedirectUrl"


@pytest.mark.parametrize("body, code", [
    ({"redirectUrl": CALLBACK}, "missingField"),
    ({"clientId": "not-a-guid", "redirectUrl": CALLBACK}, "invalidClientId"),
    ({"clientId": GUID}, "missingField"),
    ({"clientId": GUID, "redirectUrl": 5}, "invalidField"),
    ({"clientId": GUID, "redirectUrl": CALLBACK, "clientSecret": ""}, "invalidField"),
    ({"clientId": GUID, "redirectUrl": CALLBACK, "tenant": "x"}, "unknownField"),
])
def test_malformed_settings_bodies_name_the_problem(body, code):
    with pytest.raises(InputError) as err:
        parsing.provider_settings_input(body)
    assert err.value.code == code


@pytest.fixture
def stores(services):
    return services.provider_settings, services.secrets


def call(handler, method, body=None):
    data = b"" if body is None else json.dumps(body).encode()
    response = handler(func.HttpRequest(method, "/api/settings", body=data,
                                        headers={"Content-Type": "application/json"} if data else {}))
    return response.status_code, json.loads(response.get_body()), response.get_body()


def test_get_before_any_change_shows_nothing_configured(stores):
    assert call(settings_functions.settings_get, "GET") == (
        200, {"clientId": None, "redirectUrl": None, "clientSecretConfigured": False, "updatedAt": None,
              "clientSecretExpiresAt": None, "clientSecretExpiry": None},
        b'{"clientId":null,"redirectUrl":null,"clientSecretConfigured":false,"updatedAt":null,'
        b'"clientSecretExpiresAt":null,"clientSecretExpiry":null}')


def test_apply_changes_stores_the_secret_only_in_the_secret_store_and_keeps_it(stores):
    store, secrets = stores
    status, view, raw = call(settings_functions.settings_put, "PUT",
                             {"clientId": GUID.upper(), "redirectUrl": CALLBACK, "clientSecret": "Prov~Secret.1"})
    assert status == 200
    assert (view["clientId"], view["redirectUrl"], view["clientSecretConfigured"]) == (GUID, CALLBACK, True)
    assert view["updatedAt"].endswith("Z")
    assert b"Prov~Secret.1" not in raw
    assert secrets.values == {(None, ProviderSecret.CLIENT_SECRET): "Prov~Secret.1"}
    status, view, _ = call(settings_functions.settings_put, "PUT", {"clientId": GUID, "redirectUrl": CALLBACK})
    assert (status, view["clientSecretConfigured"]) == (200, True)
    assert secrets.values[(None, ProviderSecret.CLIENT_SECRET)] == "Prov~Secret.1"
    assert call(settings_functions.settings_get, "GET")[1] == view


def test_refused_settings_change_nothing(stores):
    store, secrets = stores
    status, body, _ = call(settings_functions.settings_put, "PUT",
                           {"clientId": GUID, "redirectUrl": "http://evil.example/authenticate/OAuth2Callback",
                            "clientSecret": "never-stored"})
    assert (status, body["error"]["code"]) == (400, "invalidRedirectUrl")
    assert store.settings is None and secrets.values == {}

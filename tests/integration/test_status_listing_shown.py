"""GET /api/status reads only the columns it shows (TableCustomerStore.list_shown) against a real Azurite: the same
JSON, the same pages and cursors as from the whole records, for customers of every kind."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.table_customers import (
    CUSTOMER_PARTITION,
    SHOWN_COLUMNS,
    TableCustomerStore,
    _with_shown_times,
    customer_from_entity,
)
from shared.domain.expiry import Expiry, ExpiryKind, ExpirySource, ExpiryUnknown, UnknownReason
from shared.domain.expiry_reads import KeptRead
from shared.domain.expiry_record import Foresight
from shared.domain.models import (
    AuthMethod,
    ConsentResult,
    Customer,
    CustomerFilter,
    CustomerListing,
    LastConsent,
    PendingConsent,
    Status,
    StatusListing,
)
from shared.domain.reasons import Reason
from shared.domain.secrets import SecretKind
from shared.domain.verification import VerificationResult
from shared.views import status_list_view
from tests.support.history import into_history

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=654321)
FILTERS = [CustomerFilter(), CustomerFilter(status=Status.FAILED), CustomerFilter(method=AuthMethod.APPLICATION),
           CustomerFilter(status=Status.SUCCEEDED, method=AuthMethod.TOKEN),
           CustomerFilter(expires_before=NOW + timedelta(days=30))]


@pytest.fixture
def store(tables) -> TableCustomerStore:
    return TableCustomerStore(tables, table=f"Tenants{uuid.uuid4().hex[:16]}")


def _graph(days: float) -> Expiry:
    return Expiry(ExpiryKind.CLIENT_SECRET, ExpirySource.GRAPH, NOW + timedelta(days=days), str(uuid.uuid4()))


def _customers() -> list[Customer]:
    """Every field the view shows, set and unset, over the three methods and every status."""
    versions = {SecretKind.APPLICATION_SECRET: "v-app"}
    kinds = [
        dict(authentication_method=AuthMethod.PASSWORD, m365_email="admin@contoso.onmicrosoft.com",
             secret_versions={SecretKind.PASSWORD: "v-pw"}),
        dict(authentication_method=AuthMethod.PASSWORD, m365_email="Admin@Fabrikam.com",
             last_verification_status=Status.FAILED, when_last_verified=NOW - timedelta(hours=1),
             last_verification_reason=Reason.INVALID_CREDENTIALS, aadsts_code=50126,
             last_verification_message="AADSTS50126: Error validating credentials.\nTrace ID: 1\n",
             hint="Check the password.", secret_versions={SecretKind.PASSWORD: "v-pw"},
             pending_consent=PendingConsent(AuthMethod.TOKEN, NOW, NOW + timedelta(minutes=30), "h1", 2),
             status_before_reset=Status.SUCCEEDED, reason_before_reset=Reason.MFA_REQUIRED),
        dict(authentication_method=AuthMethod.TOKEN, m365_email="ops@example.com",
             last_verification_status=Status.SUCCEEDED, when_last_verified=NOW,
             secret_versions={SecretKind.REFRESH_TOKEN: "v-rt"},
             last_consent=LastConsent(ConsentResult.GRANTED, AuthMethod.TOKEN, NOW - timedelta(days=3), None),
             foresight=Foresight(refresh_token_redeemed_at=NOW - timedelta(days=80), provider_checked=True,
                                 provider_secret=Expiry(ExpiryKind.PROVIDER_CLIENT_SECRET, ExpirySource.OPERATOR,
                                                        NOW + timedelta(days=12), "v-provider"),
                                 gdap=Expiry(ExpiryKind.GDAP_RELATIONSHIP, ExpirySource.GRAPH,
                                             NOW + timedelta(days=5), "rel-1"),
                                 gdap_reason="globalAdministrator", warned={"rel-1": 7})),
        dict(authentication_method=AuthMethod.TOKEN, last_verification_status=Status.FAILED,
             last_verification_reason=Reason.CONSENT_DENIED, when_last_verified=NOW,
             pending_consent=PendingConsent(AuthMethod.TOKEN, NOW - timedelta(hours=2), NOW - timedelta(hours=1),
                                            "h2", None),  # expired: no longer shown
             last_consent=LastConsent(ConsentResult.DECLINED, AuthMethod.TOKEN, NOW, "The admin said no.\nMore")),
        dict(authentication_method=AuthMethod.APPLICATION, application_id=str(uuid.uuid4()), secret_versions=versions,
             last_verification_status=Status.SUCCEEDED, when_last_verified=NOW - timedelta(minutes=5),
             foresight=Foresight(client_secret=_graph(6.5), client_secret_read=KeptRead("k", NOW),
                                 provider_checked=True)),
        dict(authentication_method=AuthMethod.APPLICATION, application_id=str(uuid.uuid4()), secret_versions=versions,
             application_secret_expires_at=NOW + timedelta(days=45),
             foresight=Foresight(client_secret=ExpiryUnknown(ExpiryKind.CLIENT_SECRET, UnknownReason.THROTTLED,
                                                             "Graph kept answering 429."),
                                 client_secret_read=KeptRead("k", NOW, UnknownReason.THROTTLED))),
        dict(authentication_method=AuthMethod.APPLICATION, application_id=str(uuid.uuid4()), secret_versions={},
             foresight=Foresight(via_provider=True, provider_checked=True, provider_secret=None)),
        dict(authentication_method=AuthMethod.APPLICATION, application_id=str(uuid.uuid4()), secret_versions=versions,
             application_secret_expires_at=NOW + timedelta(days=400), last_verification_status=Status.FAILED,
             last_verification_reason=Reason.MFA_REQUIRED, aadsts_code=50076, when_last_verified=NOW,
             results_recorded=3),
    ]
    return [Customer(customer_id=f"c-{n:02d}", tenant_id=f"t{n}.onmicrosoft.com" if n % 2 else str(uuid.uuid4()),
                     created_at=NOW - timedelta(days=n), updated_at=NOW, **kinds[n % len(kinds)])
            for n in range(3 * len(kinds))]


@pytest.fixture
def seeded(store) -> list[Customer]:
    customers = _customers()
    for customer in customers:
        store.create(customer)
    # The partition's other rows: a history ring, and the count shards the writes made.
    into_history(store, VerificationResult("c-01", Status.FAILED, NOW, AuthMethod.PASSWORD, Reason.INVALID_CREDENTIALS))
    return customers


def _walk(list_page, flt: CustomerFilter, top: int) -> list[CustomerListing]:
    pages, after = [], None
    while True:
        page = list_page(flt, top=top, after=after)
        pages.append(page)
        if page.next is None:
            return pages
        after = page.next


def _json(pages: list[CustomerListing]) -> list[str]:
    return [json.dumps(status_list_view(StatusListing(generated_at=NOW, counts={}, customers=page.customers,
                                                      continuation_token=page.next)))
            for page in pages]


@pytest.mark.parametrize("flt", FILTERS, ids=["all", "failed", "application", "succeeded-token", "expiring"])
@pytest.mark.parametrize("top", [1000, 4])
def test_the_status_listing_answers_the_same_json_and_cursors_as_the_whole_records(store, seeded, flt, top):
    whole = _walk(store.list, flt, top)
    shown = _walk(store.list_shown, flt, top)
    assert [page.next for page in shown] == [page.next for page in whole]
    assert _json(shown) == _json(whole)
    assert sum(len(page.customers) for page in shown) > 0


def test_every_field_of_the_seeded_customers_reaches_the_json(store, seeded):
    """The comparison above covers what the view shows: the seed sets each field to something shown."""
    tenants = [t for page in _walk(store.list_shown, CustomerFilter(), 1000)
               for t in json.loads(_json([page])[0])["tenants"]]
    assert len(tenants) == len(seeded)
    for field in tenants[0]:
        assert any(t[field] not in (None, []) for t in tenants), field


def test_a_shown_customer_carries_no_etag_so_it_cannot_be_written_back(store, seeded):
    shown = store.list_shown(CustomerFilter(), top=1, after=None).customers[0]
    assert shown.etag is None and shown.created_at is None  # only the shown columns were read
    with pytest.raises(ValueError, match="etag"):
        store.replace(shown, shown)
    assert store.get(shown.customer_id).created_at == seeded[0].created_at


def test_a_time_as_the_service_writes_it_without_metadata_is_read_to_the_microsecond():
    """Azure answers seven fractional digits (Azurite the six it was sent)."""
    row = {"RowKey": "c-1", "tenantId": "t", "authenticationMethod": "token", "whenLastVerified":
           "2024-05-01T12:00:00.1234567Z", "applicationSecretExpiresAt": "2024-06-01T00:00:00Z"}
    entity = type("Row", (dict,), {"metadata": {}})({"PartitionKey": CUSTOMER_PARTITION, **row})
    assert set(row) <= set(SHOWN_COLUMNS)
    customer = customer_from_entity(_with_shown_times(entity))
    assert customer.when_last_verified == datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert customer.application_secret_expires_at == datetime(2024, 6, 1, tzinfo=UTC)

"""The two message shapes: the webhook body against docs/alerts-webhook.schema.json, and the Teams Workflows envelope
whose Adaptive Card is validated against the pinned Adaptive Cards schema; text from the identity platform is shown
as plain text, with no markup surviving."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from shared.domain.alerts.channels import ChannelKind
from shared.domain.alerts.digests import MAX_ENTRIES, Digest, DigestEntry, EntryKind, channel_test_digest
from shared.domain.alerts.messages import outgoing_message
from shared.domain.alerts.signing import check_signature
from shared.domain.alerts.teams_card import MAX_CARD_BYTES, MAX_TEXT_CHARS, card, plain, teams_message
from shared.domain.alerts.webhook_body import webhook_body, webhook_payload
from shared.domain.expiry import Expiry, ExpiryKind, ExpirySource
from shared.domain.reasons import Reason

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_SCHEMA = json.loads((ROOT / "docs" / "alerts-webhook.schema.json").read_text(encoding="utf-8"))
CARD_SCHEMA = json.loads((ROOT / "tests/support/adaptive_cards/adaptive-card-1.4.schema.json").read_text("utf-8"))
T0 = datetime(2025, 3, 1, 6, 0, 5, 123456, tzinfo=UTC)
PAGE = "https://status.example.com/"
HOSTILE = ("**Bold** _it_ [click](https://evil.example/x) <b>hi</b> <script>x</script> {{DATE(2017-02-14T06:08:39Z, "
           "SHORT)}} {{TIME(2017-02-14T06:08:39Z)}}\r- item\n1. item &amp; `code` # head ~~s~~ \\*")


def _entries(count: int, *, message: str = "AADSTS50126: Error validating credentials.", hint: str = "Check it.",
             kinds: tuple[EntryKind, ...] = tuple(EntryKind)) -> list[DigestEntry]:
    return [DigestEntry(kind=kinds[n % len(kinds)], customer_id=f"cust_{n:05d}_x", tenant_id=f"t{n}.onmicrosoft.com",
                        at=T0 - timedelta(minutes=n), reason=Reason.INVALID_CREDENTIALS,
                        previous_reason=Reason.MFA_REQUIRED if n % 2 else None, hint=hint, message=message,
                        event_id=None if kinds[n % len(kinds)] is EntryKind.STILL_FAILING else f"e-{n}")
            for n in range(count)]


def _digest(entries: list[DigestEntry], more: int = 0, run_id: str | None = "run-1") -> Digest:
    counts = {kind: sum(e.kind is kind for e in entries) for kind in EntryKind}
    counts[EntryKind.CONNECTION_LOST] += more
    return Digest("ops", "run:run-1", run_id, T0, counts, tuple(entries), more)


def _validate_card(content: dict[str, Any]) -> None:
    jsonschema.Draft6Validator(CARD_SCHEMA).validate(content)


def _texts(node: Any, kind: str) -> list[str]:
    """The `text` of every element of type `kind` in a card."""
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == kind and "text" in node:
            found.append(node["text"])
        for value in node.values():
            found += _texts(value, kind)
    elif isinstance(node, list):
        for value in node:
            found += _texts(value, kind)
    return found


# The webhook body
@pytest.mark.parametrize("digest", [_digest(_entries(5)), _digest(_entries(50), more=9_950),
                                    _digest(_entries(1), run_id=None), channel_test_digest("ops", test_id="1",
                                                                                          created_at=T0)])
def test_webhook_bodies_follow_their_schema(digest):
    payload = json.loads(webhook_body(digest, delivery_id="d-1", page_url=PAGE))
    jsonschema.Draft202012Validator(WEBHOOK_SCHEMA, format_checker=jsonschema.FormatChecker()).validate(payload)
    assert payload == webhook_payload(digest, delivery_id="d-1", page_url=PAGE)


def test_the_webhook_body_in_full():
    entry = _entries(1, message=HOSTILE)[0]
    payload = webhook_payload(_digest([entry], more=3), delivery_id="d-1", page_url=PAGE)
    assert payload == {
        "schemaVersion": 1, "deliveryId": "d-1", "channelId": "ops", "test": False, "runId": "run-1",
        "createdAt": "2025-03-01T06:00:05Z",
        "counts": {"connectionLost": 4, "reasonChanged": 0, "stillFailing": 0, "connectionExpiring": 0,
                   "connectionRestored": 0},
        "customers": [{"type": "connectionLost", "customerId": "cust_00000_x", "tenantId": "t0.onmicrosoft.com",
                       "reason": "invalidCredentials", "previousReason": None, "hint": "Check it.",
                       "message": HOSTILE, "at": "2025-03-01T06:00:05Z", "eventId": "e-0", "expiry": None,
                       "withinDays": None}],
        "more": 3, "pageUrl": PAGE}


def _expiring(expiry: Expiry | None, within_days: int | None) -> DigestEntry:
    return DigestEntry(kind=EntryKind.CONNECTION_EXPIRING, customer_id="woodgrove", tenant_id="t7.onmicrosoft.com",
                       at=T0, event_id="e-7", expiry=expiry, within_days=within_days)


SECRET_ENDS = Expiry(ExpiryKind.CLIENT_SECRET, ExpirySource.GRAPH, datetime(2025, 3, 6, 1, 2, 3, tzinfo=UTC))


def test_a_connection_expiring_line_names_its_expiry_and_band_and_follows_the_schema():
    payload = webhook_payload(_digest([_expiring(SECRET_ENDS, 7), _expiring(None, None)]), delivery_id="d-1",
                              page_url=PAGE)
    jsonschema.Draft202012Validator(WEBHOOK_SCHEMA, format_checker=jsonschema.FormatChecker()).validate(payload)
    assert [(line["expiry"], line["withinDays"]) for line in payload["customers"]] == [
        ({"what": "clientSecret", "source": "graph", "at": "2025-03-06T01:02:03Z"}, 7), (None, None)]
    line = payload["customers"][0]
    validator = jsonschema.Draft202012Validator(WEBHOOK_SCHEMA)
    for broken in ({**line, "withinDays": 5}, {**line, "expiry": {**line["expiry"], "what": "password"}},
                   {**line, "expiry": {"what": "clientSecret", "source": "graph"}}):
        assert not validator.is_valid({**payload, "customers": [broken]})


def test_the_card_says_which_expiry_comes_within_which_band():
    content = card(_digest([_expiring(SECRET_ENDS, 7)]), page_url=PAGE)
    _validate_card(content)
    assert _texts(content, "TextRun")[-2:] == [
        "· Expiring soon", ": client secret expires within 7 days, on 2025-03-06 (from Microsoft Graph)"]
    older = _texts(card(_digest([_expiring(None, None)]), page_url=PAGE), "TextRun")
    assert older[-1] == "· Expiring soon"  # an event recorded before events named their expiry


def test_the_webhook_schema_refuses_what_the_contract_does_not_say():
    payload = webhook_payload(_digest(_entries(2)), delivery_id="d-1", page_url=PAGE)
    validator = jsonschema.Draft202012Validator(WEBHOOK_SCHEMA)
    line = payload["customers"][0]
    for broken in ({**payload, "extra": 1}, {**payload, "customers": [{**line, "type": "x"}]},
                   {**payload, "createdAt": "2025-03-01 06:00:05"}, {**payload, "customers": [line] * 51}):
        assert not validator.is_valid(broken)


def test_the_webhook_schema_knows_every_reason():
    assert set(WEBHOOK_SCHEMA["$defs"]["reason"]["enum"]) == {r.value for r in Reason} | {None}


def test_every_attempt_sends_the_same_signed_bytes():
    digest = _digest(_entries(3))
    first, second = (outgoing_message(ChannelKind.WEBHOOK, digest, delivery_id="d-1", page_url=PAGE,
                                      signing_secret="whsec_k", timestamp=stamp)
                     for stamp in (1_700_000_000, 1_700_000_300))
    assert first.body == second.body
    assert first.headers["X-Delivery-Id"] == second.headers["X-Delivery-Id"] == "d-1"
    assert check_signature(first.body, signature_header=first.headers["X-Signature"],
                           timestamp_header=first.headers["X-Signature-Timestamp"], signing_secrets=["whsec_k"],
                           now=datetime.fromtimestamp(1_700_000_000, UTC)) is None


def test_a_webhook_message_needs_its_signing_secret():
    with pytest.raises(ValueError):
        outgoing_message(ChannelKind.WEBHOOK, _digest(_entries(1)), delivery_id="d", page_url=PAGE,
                         signing_secret=None, timestamp=1)


# The Teams card
@pytest.mark.parametrize("digest", [_digest(_entries(5)), _digest(_entries(50, message=HOSTILE), more=9_950),
                                    channel_test_digest("ops", test_id="1", created_at=T0),
                                    _digest(_entries(1, message="", hint=""))])
def test_teams_messages_are_the_workflows_envelope_around_a_valid_adaptive_card(digest):
    message = json.loads(outgoing_message(ChannelKind.TEAMS, digest, delivery_id="d-1", page_url=PAGE,
                                          signing_secret=None, timestamp=1).body)
    assert message == teams_message(digest, page_url=PAGE)
    assert message["type"] == "message"
    [attachment] = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["content"]["version"] == "1.4"
    _validate_card(attachment["content"])
    assert attachment["content"]["actions"] == [{"type": "Action.OpenUrl", "title": "Open the status page",
                                                 "url": PAGE}]


def test_the_pinned_schema_refuses_a_broken_card():
    content = card(_digest(_entries(2)), page_url=PAGE)
    for broken in ({**content, "msteams": {"width": "Full"}}, {**content, "body": [{"type": "TextBlock"}]},
                   {**content, "body": [{"type": "TextBlock", "text": "x", "weight": "Heavy"}]},
                   {**content, "body": [{"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": 1}]}]}):
        with pytest.raises(jsonschema.ValidationError):
            _validate_card(broken)


def test_the_card_lists_customers_reasons_hints_and_counts():
    digest = _digest(_entries(3, kinds=(EntryKind.CONNECTION_LOST, EntryKind.CONNECTION_RESTORED)), more=0)
    content = card(digest, page_url=PAGE)
    runs = " ".join(_texts(content, "TextRun"))
    for entry in digest.entries:
        assert entry.customer_id in runs and entry.tenant_id in runs
    assert ": invalidCredentials" in runs and "Check it." in runs and "Connection restored" in runs
    assert _texts(content, "TextBlock")[0] == "Tenant Auth Status: 2 connections lost, 1 connection restored"
    assert content["body"][1] == {"type": "FactSet", "facts": [{"title": "Connection lost", "value": "2"},
                                                               {"title": "Connection restored", "value": "1"}]}


def test_no_markup_from_the_identity_platform_survives():
    content = card(_digest(_entries(3, message=HOSTILE, hint=HOSTILE)), page_url=PAGE)
    for text in _texts(content, "TextBlock"):  # TextBlocks render Markdown: they hold only our own words
        assert not any(piece in text for piece in ("Bold", "evil", "DATE", "item", "script"))
    for fact in content["body"][1]["facts"]:  # so do facts, in Teams
        assert fact["value"].isdigit() and fact["title"].replace(" ", "").isalpha()
    shown = [t for t in _texts(content, "TextRun") if "evil.example" in t]
    assert len(shown) == 6  # the hint and the message of each line, in TextRuns, which render no Markdown
    for text in shown:
        assert "**Bold** _it_ [click](https://evil.example/x) <b>hi</b> <script>x</script>" in text  # as written
        assert "\r" not in text and "\n" not in text
    assert "{{" not in json.dumps(content)  # the one syntax TextRuns expand is broken up


def test_plain_text_keeps_what_a_person_reads():
    assert plain("AADSTS50126: Error validating credentials.\r\nTrace ID: x") == \
        "AADSTS50126: Error validating credentials. Trace ID: x"
    assert plain("a {{ b }} c").replace("\u2060", "") == "a {{ b }} c"
    assert len(plain("x" * 1000)) == MAX_TEXT_CHARS and plain("x" * 1000).endswith("…")


def test_customer_ids_with_markdown_characters_are_text_runs():
    entry = _entries(1)[0]
    content = card(_digest([entry]), page_url=PAGE)
    assert entry.customer_id in _texts(content, "TextRun")
    assert not any("cust_" in t for t in _texts(content, "TextBlock"))


def test_a_card_stays_under_the_teams_size_limit_and_counts_what_it_left_out():
    longest = "M" * 500
    digest = _digest(_entries(MAX_ENTRIES, message=longest, hint="H" * 400), more=9_950)
    message = outgoing_message(ChannelKind.TEAMS, digest, delivery_id="d", page_url=PAGE, signing_secret=None,
                               timestamp=1)
    assert len(message.body) <= MAX_CARD_BYTES + 1_000 < 28_000
    content = json.loads(message.body)["attachments"][0]["content"]
    listed = sum(1 for element in content["body"] if element["type"] == "Container")
    assert 0 < listed < MAX_ENTRIES
    assert content["body"][-1]["text"] == f"and {MAX_ENTRIES - listed + 9_950} more on the status page"
    _validate_card(content)


def test_the_test_message_says_so():
    content = card(channel_test_digest("ops", test_id="1", created_at=T0), page_url=PAGE)
    assert _texts(content, "TextBlock") == ["Tenant Auth Status: test message"]

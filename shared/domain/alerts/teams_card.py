"""The message a `teams` channel receives: an Adaptive Card in the envelope a Teams Workflows webhook ("When a Teams
webhook request is received") takes. Office 365 connector cards are retired and never sent.

Every value that is not our own words (customer ids, reasons, hints, the identity platform's messages) is a TextRun
of a RichTextBlock, which renders no Markdown (a TextBlock would: `**`, `_`, `[..](..)`, lists); the date and time
functions that a TextRun still expands (`{{DATE(...)}}`, `{{TIME(...)}}`) are broken up by an invisible word joiner.
TextBlocks hold only our own words and numbers. Teams refuses messages over about 28 KB, so lines are listed only
while the card stays under MAX_CARD_BYTES; "and N more" counts the rest.
"""
from __future__ import annotations

import json
from typing import Any

from ..expiry_events import warning_text
from .digests import Digest, DigestEntry, EntryKind

CARD_VERSION = "1.4"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
MAX_CARD_BYTES = 20_000  # well under the ~28 KB a Workflows post takes (rendering adds to the JSON)
MAX_TEXT_CHARS = 300  # one provider message or hint on a card; the page shows it whole
_WORD_JOINER = "\u2060"

LABELS = {
    EntryKind.CONNECTION_LOST: ("Connection lost", "connections lost"),
    EntryKind.REASON_CHANGED: ("Failing for another reason", "failing for another reason"),
    EntryKind.STILL_FAILING: ("Still failing", "still failing"),
    EntryKind.CONNECTION_EXPIRING: ("Expiring soon", "expiring soon"),
    EntryKind.CONNECTION_RESTORED: ("Connection restored", "connections restored"),
}


def teams_message(digest: Digest, *, page_url: str) -> dict[str, Any]:
    """The Workflows webhook envelope around the digest's card."""
    content = card(digest, page_url=page_url)
    return {"type": "message", "attachments": [{"contentType": CARD_CONTENT_TYPE, "content": content}]}


def teams_body(digest: Digest, *, page_url: str) -> bytes:
    return json.dumps(teams_message(digest, page_url=page_url), ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


def card(digest: Digest, *, page_url: str) -> dict[str, Any]:
    body: list[dict[str, Any]] = [_text_block(_title(digest), weight="Bolder", size="Medium")]
    facts = [{"title": LABELS[kind][0], "value": str(count)} for kind, count in digest.counts.items() if count]
    if facts:
        body.append({"type": "FactSet", "facts": facts})
    size = len(json.dumps(body))
    listed = 0
    for entry in digest.entries:
        element = _entry(entry)
        size += len(json.dumps(element, ensure_ascii=False).encode("utf-8"))
        if size > MAX_CARD_BYTES:
            break
        body.append(element)
        listed += 1
    more = digest.more + len(digest.entries) - listed
    if more:
        body.append(_text_block(f"and {more} more on the status page", is_subtle=True))
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": "Open the status page", "url": page_url}],
    }


def plain(text: str) -> str:
    """`text` for a TextRun, shown as written: the only syntax a TextRun interprets, `{{FUNCTION(...)}}`, is broken
    by a word joiner (invisible, zero width) between the braces; line breaks become spaces; at most MAX_TEXT_CHARS."""
    flat = " ".join(text.split())
    if len(flat) > MAX_TEXT_CHARS:
        flat = flat[:MAX_TEXT_CHARS - 1].rstrip() + "…"
    return flat.replace("{{", "{" + _WORD_JOINER + "{")


def _title(digest: Digest) -> str:
    if digest.test:
        return "Tenant Auth Status: test message"
    parts = [f"{count} {LABELS[kind][1] if count != 1 else LABELS[kind][0].lower()}"
             for kind, count in digest.counts.items() if count]
    return "Tenant Auth Status: " + ", ".join(parts)


def _entry(entry: DigestEntry) -> dict[str, Any]:
    label, _ = LABELS[entry.kind]
    headline = [_run(entry.customer_id, weight="Bolder"), _run(f" ({entry.tenant_id})", is_subtle=True),
                _run(f" · {label}")]
    if entry.kind is EntryKind.CONNECTION_EXPIRING:
        if entry.expiry is not None:  # None only for an event recorded before events named their expiry
            headline.append(_run(f": {warning_text(entry.expiry, entry.within_days)}"))
    else:
        if entry.reason is not None and entry.kind is not EntryKind.CONNECTION_RESTORED:
            headline.append(_run(f": {entry.reason}"))
        if entry.previous_reason is not None and entry.kind is not EntryKind.CONNECTION_LOST:
            headline.append(_run(f" (was {entry.previous_reason})", is_subtle=True))
    items: list[dict[str, Any]] = [{"type": "RichTextBlock", "inlines": headline}]
    for text, subtle in ((entry.hint, False), (entry.message, True)):
        if text:
            items.append({"type": "RichTextBlock", "spacing": "None", "inlines": [_run(text, is_subtle=subtle)]})
    return {"type": "Container", "separator": True, "items": items}


def _run(text: str, *, weight: str | None = None, is_subtle: bool = False) -> dict[str, Any]:
    run: dict[str, Any] = {"type": "TextRun", "text": plain(text)}
    if weight:
        run["weight"] = weight
    if is_subtle:
        run["isSubtle"] = True
    return run


def _text_block(text: str, *, weight: str | None = None, size: str | None = None,
                is_subtle: bool = False) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "TextBlock", "text": text, "wrap": True}
    if weight:
        block["weight"] = weight
    if size:
        block["size"] = size
    if is_subtle:
        block["isSubtle"] = True
    return block

"""The HTML page the consent callback answers: what happened, for whom, and what to do; every value escaped."""
from __future__ import annotations

from html import escape

from .domain.consent import ConsentOutcome


def consent_page(outcome: ConsentOutcome) -> str:
    lines = "\n".join(f"<p>{escape(line)}</p>" for line in outcome.lines if line)
    customer = f"<p>Customer: <strong>{escape(outcome.customer_id)}</strong></p>\n" if outcome.customer_id else ""
    return (
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{escape(outcome.title)} - Tenant Auth Status</title>\n</head>\n<body>\n<main>\n"
        f"<h1>{escape(outcome.title)}</h1>\n{customer}{lines}\n"
        "<p>You can close this page.</p>\n</main>\n</body>\n</html>\n"
    )

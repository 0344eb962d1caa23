"""The Functions entry point: one FunctionApp and its blueprints.

No I/O here: the host imports this module on every cold start.
"""
import azure.functions as func

from functions import (
    alerts,
    audit,
    consent,
    consent_bulk,
    customers,
    events,
    health,
    key_check,
    maintenance,
    me,
    page,
    provider_settings,
    status,
    verification,
)

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(health.bp)
app.register_functions(customers.bp)
app.register_functions(status.bp)
app.register_functions(provider_settings.bp)
app.register_functions(verification.bp)
app.register_functions(consent.bp)
app.register_functions(maintenance.bp)
app.register_functions(events.bp)
app.register_functions(page.bp)
app.register_functions(consent_bulk.bp)
app.register_functions(audit.bp)
app.register_functions(key_check.bp)
app.register_functions(me.bp)
app.register_functions(alerts.bp)

"""Every function's route, methods and auth level, read from what the app registers."""
import azure.functions as func

import function_app
from functions.page import ROOT_ROUTE
from tests.support.registry import http_operations

EXPECTED = {
    ("api/health", "GET"): func.AuthLevel.ANONYMOUS,
    ("api/tenants/{customerId}", "PUT"): func.AuthLevel.FUNCTION,
    ("api/tenants/{customerId}", "GET"): func.AuthLevel.FUNCTION,
    ("api/tenants/{customerId}", "DELETE"): func.AuthLevel.FUNCTION,
    ("api/status", "GET"): func.AuthLevel.FUNCTION,
    ("api/status/{customerId}", "GET"): func.AuthLevel.FUNCTION,
    ("api/settings", "GET"): func.AuthLevel.FUNCTION,
    ("api/settings", "PUT"): func.AuthLevel.FUNCTION,
    ("{root:maxlength(0)?}", "GET"): func.AuthLevel.ANONYMOUS,
    ("page/{file}", "GET"): func.AuthLevel.ANONYMOUS,
    ("api/alerts/channels", "GET"): func.AuthLevel.FUNCTION,
    ("api/alerts/channels/{channelId}", "PUT"): func.AuthLevel.FUNCTION,
    ("api/alerts/channels/{channelId}", "DELETE"): func.AuthLevel.FUNCTION,
    ("api/alerts/channels/{channelId}/test", "POST"): func.AuthLevel.FUNCTION,
    ("api/status/{customerId}/acknowledge", "POST"): func.AuthLevel.FUNCTION,
}


def test_routes_methods_and_auth_levels_are_the_contracts():
    routes = http_operations()
    for key, level in EXPECTED.items():
        assert routes.get(key) == level, key
    # Everything under /api/ but health requires a function key; the other anonymous routes are the callback and
    # the status page with its files (which hold no data: the page reads the API with the key).
    for (route, _method), level in routes.items():
        if route.startswith("api/") and route != "api/health":
            assert level == func.AuthLevel.FUNCTION, route
        elif route != "api/health":
            assert route in {"authenticate/OAuth2Callback", ROOT_ROUTE, "page/{file}"}, route
            assert level == func.AuthLevel.ANONYMOUS, route


def test_host_json_makes_routes_literal():
    import json
    from pathlib import Path

    host = json.loads((Path(function_app.__file__).parent / "host.json").read_text())
    assert host["extensions"]["http"]["routePrefix"] == ""
    assert host["extensionBundle"]["version"].startswith("[4.")


def test_host_json_polls_an_idle_work_queue_at_least_every_two_seconds():
    """The host backs off while the queue is empty (by default up to a minute): Verify All must start promptly."""
    import json
    from pathlib import Path

    host = json.loads((Path(function_app.__file__).parent / "host.json").read_text())
    hours, minutes, seconds = host["extensions"]["queues"]["maxPollingInterval"].split(":")  # a TimeSpan
    assert int(hours) * 3600 + int(minutes) * 60 + float(seconds) <= 2.0


def test_maintenance_is_a_daily_timer_that_does_not_run_at_start():
    from tests.support.registry import registered_functions

    (sweep,) = [f for f in registered_functions() if f.get_function_name() == "maintenance"]
    trigger = sweep.get_trigger()
    assert trigger.get_binding_name() == "timerTrigger"
    assert trigger.schedule == "0 30 3 * * *"
    assert trigger.run_on_startup is False and trigger.use_monitor is True


def test_alerts_are_dispatched_every_minute_by_a_timer_that_does_not_run_at_start():
    from tests.support.registry import registered_functions

    (timer,) = [f for f in registered_functions() if f.get_function_name() == "alerts_dispatch"]
    trigger = timer.get_trigger()
    assert trigger.get_binding_name() == "timerTrigger"
    assert trigger.schedule == "0 * * * * *"
    assert trigger.run_on_startup is False and trigger.use_monitor is False

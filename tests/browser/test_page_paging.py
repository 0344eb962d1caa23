"""A thousand customers and more: the page loads a full page of 1,000 rows, stays usable, and follows the
continuation token for the rest."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.browser.conftest import running_app

CUSTOMERS = 1010


@pytest.fixture(scope="module")
def world(identity, tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("page-paging"), identity) as app:
        session = requests.Session()
        session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=16))

        def add(n: int) -> int:
            body = {"tenantId": f"t{n:04d}.onmicrosoft.com", "authenticationMethod": "token"}
            return session.put(app.url(f"/api/tenants/cust-{n:04d}"), json=body, timeout=60).status_code

        with ThreadPoolExecutor(max_workers=16) as pool:
            assert set(pool.map(add, range(CUSTOMERS))) == {201}
        yield app


def test_a_thousand_rows_then_the_next_page(world, open_page):
    page = open_page(world)
    page.wait_text("shown", "more to load")
    loaded = len(page.css("#rows tr"))
    assert 0 < loaded <= 1000 and page.by_id("count-total").text == str(CUSTOMERS)
    # Still usable with a full page: the search answers and narrows the rows.
    page.type_into("search", "cust-0999")
    page.wait_rows({"cust-0999"}, "the one customer searched for")
    page.type_into("search", "")
    page.wait(lambda: len(page.visible_ids()) == loaded, "every loaded row again")
    while page.by_id("load-more").is_displayed():
        page.by_id("load-more").click()
        page.wait(lambda: page.by_id("load-more").is_enabled(), "the next page")
    page.wait_text("shown", f"Showing {CUSTOMERS} customers")
    assert len(page.css("#rows tr")) == CUSTOMERS
    assert page.row("cust-1009").is_displayed()
    assert page.console_errors() == []

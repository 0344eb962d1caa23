"""Browser tests: the page served by the local host, over real Azurite and the identity platform simulator,
in Debian's headless Chromium. Each module starts an app on an Azurite of its own, since runs and settings
cover the whole store."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from tests.browser.browser import Page, require_browser
from tests.e2e.conftest import RunningApp, app_on_own_azurite, identity_env
from tools.identity_sim import IdentitySimulator


@pytest.fixture(scope="session", autouse=True)
def browser_present() -> None:
    require_browser()


@pytest.fixture(scope="session")
def identity(tmp_path_factory) -> Iterator[IdentitySimulator]:
    with IdentitySimulator(ca_dir=tmp_path_factory.mktemp("identity")) as simulator:
        yield simulator


@contextlib.contextmanager
def running_app(tmp, identity: IdentitySimulator, args: list[str] | None = None, **env: str) -> Iterator[RunningApp]:
    """The local host on an Azurite of its own, verifying against the simulator; no timer runs meanwhile.
    `args` go to the local host's command line."""
    with app_on_own_azurite(tmp, {**identity_env(identity), "VERIFY_SCHEDULE": "0 0 0 1 1 *", **env}, args) as app:
        yield app


@pytest.fixture
def open_page() -> Iterator:
    """open_page(app) -> a Page on the app's root; every window is closed after the test."""
    pages: list[Page] = []

    def opener(app: RunningApp, path: str = "/", *, before_load: str | None = None, ready: bool = True) -> Page:
        page = Page(app.base_url)
        pages.append(page)
        if before_load:  # a script that runs before the page's own, in every document
            page.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": before_load})
        page.open(path, ready=ready)
        return page

    yield opener
    for page in pages:
        page.close()

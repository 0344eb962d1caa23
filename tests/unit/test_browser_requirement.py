"""Without a browser the browser tests fail in CI (CI=true) and are skipped, with the way to get one, elsewhere."""
from pathlib import Path

import pytest

from tests.browser import browser


@pytest.fixture
def no_browser(monkeypatch, tmp_path):
    monkeypatch.setattr(browser, "CHROMIUM", Path(tmp_path / "chromium"))


def test_ci_without_a_browser_fails(no_browser, monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="apt-get install chromium chromium-driver"):
        browser.require_browser()


def test_elsewhere_without_a_browser_the_tests_skip(no_browser, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="chromium"):
        browser.require_browser()

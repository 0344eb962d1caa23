"""A real headless Chromium (Debian's chromium and chromium-driver) driven by Selenium, and what the tests
read from it: visible text, explicit waits, the console log and screenshots.

Selenium is given both paths, so Selenium Manager has nothing to look up or download (SE_OFFLINE too).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
ARTIFACTS = Path(__file__).resolve().parents[2] / ".local" / "artifacts"
WAIT = 30  # seconds an explicit wait gives what a person would see; most appear at once
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
         "--window-size=1400,1000")


def require_browser() -> None:
    """In CI a missing browser fails the run (.ci/run installs it); elsewhere the tests say how to get it."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if not missing:
        return
    message = f"no browser: {', '.join(missing)} missing (apt-get install chromium chromium-driver)"
    if os.environ.get("CI", "").lower() in {"true", "1"}:
        pytest.fail(message)
    pytest.skip(message)


class Page:
    """One browser window on the app."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._profile = tempfile.mkdtemp(prefix="chromium-profile-")
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (*FLAGS, f"--user-data-dir={self._profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        os.environ.setdefault("SE_OFFLINE", "true")
        self.driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self._profile, ignore_errors=True)

    def open(self, path: str = "/", *, ready: bool = True) -> None:
        """Load the page; with `ready`, wait until it shows its first page of customers."""
        self.driver.get(self.base_url + path)
        if ready:
            self.wait(lambda: self.by_id("shown").text != "", "the first page of customers")

    # --- finding and waiting ----------------------------------------------------------------------------

    def by_id(self, element_id: str) -> WebElement:
        return self.driver.find_element(By.ID, element_id)

    def css(self, selector: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def wait(self, condition: Callable[[], object], what: str, timeout: float = WAIT):
        def check(_driver):
            try:
                return condition()
            except StaleElementReferenceException:  # the page re-rendered it meanwhile: look again
                return False
        return WebDriverWait(self.driver, timeout).until(check, f"never saw {what}")

    def wait_text(self, element_id: str, text: str, timeout: float = WAIT) -> str:
        self.wait(lambda: text in self.by_id(element_id).text, f"{text!r} in #{element_id}", timeout)
        return self.by_id(element_id).text

    def wait_replaced(self, element: WebElement, what: str) -> None:
        WebDriverWait(self.driver, WAIT).until(EC.staleness_of(element), f"never saw {what}")

    def wait_visible(self, element_id: str) -> WebElement:
        return WebDriverWait(self.driver, WAIT).until(EC.visibility_of_element_located((By.ID, element_id)))

    def wait_hidden(self, element_id: str) -> None:
        WebDriverWait(self.driver, WAIT).until(EC.invisibility_of_element_located((By.ID, element_id)))

    # --- the customers table ----------------------------------------------------------------------------

    def row(self, customer_id: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, f'#rows tr[data-id="{customer_id}"]')

    def visible_ids(self) -> list[str]:
        # One script call, not one WebDriver round trip per row: a page holds up to 1,000 rows.
        return self.driver.execute_script(
            "return [...document.querySelectorAll('#rows tr')].filter((tr) => tr.offsetParent !== null)"
            ".map((tr) => tr.dataset.id)")

    def wait_rows(self, expected: set[str], what: str) -> None:
        self.wait(lambda: set(self.visible_ids()) == expected, what)

    def select(self, element_id: str, value: str) -> None:
        Select(self.by_id(element_id)).select_by_value(value)

    def type_into(self, element_id: str, text: str) -> None:
        """Select what the field holds and type over it, as a person does (so `input` events fire)."""
        field = self.by_id(element_id)
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(text or Keys.DELETE)

    def open_customer(self, customer_id: str) -> None:
        self.row(customer_id).find_element(By.CSS_SELECTOR, 'button[data-action="open"]').click()
        self.wait_text("customer-title", customer_id)
        self.wait_visible("customer-dialog")

    # --- evidence ---------------------------------------------------------------------------------------

    def console_errors(self, *, expected_api_errors: tuple[str, ...] = ()) -> list[str]:
        """SEVERE browser log entries (script errors, CSP violations, failed loads), less the API answers a test
        provoked on purpose (e.g. "/api/consent/" for a 409 the page shows in words); reading clears the log."""
        errors = []
        for entry in self.driver.get_log("browser"):
            if entry["level"] != "SEVERE":
                continue
            text = entry["message"]
            if entry.get("source") == "network" and any(part in text for part in expected_api_errors):
                continue
            errors.append(text)
        return errors

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        print(f"screenshot: {path}")
        return path

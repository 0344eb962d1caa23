"""The page's serving (functions/page.py) and rules its files keep: a whitelist that matches the folder, the
types and security headers, the root route as both hosts read it, and no HTML built from data."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import azure.functions as func
import pytest

from functions import page
from tests.support.registry import registered_functions
from tools.devserver import plan_functions
from tools.hostconfig import load_host_config

REPO = Path(__file__).resolve().parents[2]
TYPES = {".css": "text/css", ".js": "application/javascript", ".svg": "image/svg+xml"}


def get(handler, file: str | None = None, headers: dict[str, str] | None = None) -> func.HttpResponse:
    request = func.HttpRequest("GET", "http://localhost/", headers=headers or {}, body=b"",
                               route_params={"file": file} if file is not None else {})
    return handler(request)


def test_the_whitelist_is_exactly_the_folder():
    on_disk = {p.name for p in page.FOLDER.iterdir() if p.is_file()}
    assert on_disk == set(page.STATIC_FILES) | {page.INDEX}


def test_the_root_answers_the_page_with_its_security_headers():
    response = get(page.page)
    assert response.status_code == 200 and response.mimetype == "text/html" and response.charset == "utf-8"
    assert response.get_body() == (page.FOLDER / "index.html").read_bytes()
    headers = response.headers
    assert headers["Content-Security-Policy"] == (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-cache" and headers["ETag"].startswith('"')


@pytest.mark.parametrize("name", sorted(page.STATIC_FILES))
def test_each_static_file_answers_with_its_type(name):
    response = get(page.page_file, name)
    assert response.status_code == 200 and response.mimetype == TYPES[Path(name).suffix]
    assert response.get_body() == (page.FOLDER / name).read_bytes()
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    again = get(page.page_file, name, {"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.get_body() == b""


@pytest.mark.parametrize("name", ["", "index.html", "../function_app.py", "..", "%2e%2e", "app.js/",
                                  "APP.JS", "local.settings.json", "../local.settings.json", "app.js\x00"])
def test_any_other_name_is_a_json_404(name):
    response = get(page.page_file, name)
    assert response.status_code == 404 and response.mimetype == "application/json"
    assert b'"code":"notFound"' in response.get_body()


def test_both_hosts_route_only_the_empty_path_to_the_page():
    table = plan_functions(registered_functions(), load_host_config(REPO / "host.json")).routes

    def target(path: str) -> str | None:
        found = table.resolve("GET", path)
        return found.route.name if found else None

    assert target("/") == target("") == target("/?x=1") == "page"
    assert target("/page/app.js") == "page_file"
    assert target("/api/nope") is None and target("/api") is None and target("/dashboard") is None
    assert target("/api/health") == "health"
    # What the Functions host needs: a non-empty template (it maps "" to the function's name).
    assert page.ROOT_ROUTE and "?" in page.ROOT_ROUTE


def test_importing_the_app_reads_no_page_file():
    code = "import function_app, functions.page as p; print(p._file.cache_info().currsize)"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"


def test_the_html_has_no_inline_script_style_or_handler():
    html = (page.FOLDER / "index.html").read_text()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert re.findall(r"\sstyle=|<style|\son[a-z]+=", html, flags=re.IGNORECASE) == []
    assert re.findall(r"(?:src|href)=\"(?:https?:)?//", html) == []  # nothing from another origin


@pytest.mark.parametrize("name", sorted(n for n in page.STATIC_FILES if n.endswith(".js")))
def test_scripts_insert_data_as_text_only(name):
    source = (page.FOLDER / name).read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                 "setAttribute(\"style", "http://", "https://"):
        assert sink not in source, f"{name} uses {sink}"


def test_the_api_client_imports_no_ui_code():
    source = (page.FOLDER / "api.js").read_text()
    assert re.findall(r"^\s*import\b.*$", source, flags=re.MULTILINE) == []  # the page gives it the key prompt


def test_one_helper_disables_a_button_while_a_call_runs():
    scripts = sorted(n for n in page.STATIC_FILES if n.endswith(".js"))
    assert [n for n in scripts if re.search(r"\.disabled\s*=", (page.FOLDER / n).read_text())] == ["dom.js"]

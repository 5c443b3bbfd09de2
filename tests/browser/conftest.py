"""Browser tests: the portal served for real, driven by Debian's Chromium.

Every test here gets the ``browser`` mark. Without /usr/bin/chromium they are
skipped, except under CITOYEN_STRICT_TESTS=1 (CI), where they fail: a CI run
must never pass by skipping its browser tests.

Never run ``playwright install`` on these machines (see
shared/design/environment.md): the browser is Debian's, given to Playwright
through ``browser_type_launch_args``."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.browser.helpers import CHROMIUM
from tests.browser.helpers import CHROMIUM_ARGS
from tests.browser.helpers import Visit

STRICT = os.environ.get("CITOYEN_STRICT_TESTS") == "1"
HERE = Path(__file__).resolve().parent
MISSING = (
    f"Chromium is missing at {CHROMIUM}: install it with "
    "`apt-get install -y chromium chromium-driver` (never `playwright install`)."
)


def _in_this_folder(item: pytest.Item) -> bool:
    try:
        return Path(str(item.path)).resolve().is_relative_to(HERE)
    except (OSError, ValueError):
        return False


def pytest_collection_modifyitems(config, items):
    chromium_present = os.path.exists(CHROMIUM)
    for item in items:
        if not _in_this_folder(item):
            continue
        item.add_marker(pytest.mark.browser)
        if not chromium_present and not STRICT:
            item.add_marker(pytest.mark.skip(reason=MISSING))


@pytest.fixture(scope="session", autouse=True)
def _chromium_required():
    """Under CITOYEN_STRICT_TESTS=1 a missing Chromium is a failure, not a skip."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"CITOYEN_STRICT_TESTS=1 and {MISSING}", pytrace=False)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    # Chromium takes its interface language (the order of a date control's
    # day and month) from LANGUAGE, with Debian's chromium-l10n installed.
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS,
            "env": {**os.environ, "LANGUAGE": "fr"}}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """Pages as a French browser asks for them (« Accept-Language: fr-FR »)."""
    return {**browser_context_args, "locale": "fr-FR", "timezone_id": "Europe/Paris"}


@pytest.fixture(scope="session")
def base_url():
    """Each test serves its own app on its own port (``live_server``): no fixed base URL.

    This also replaces pytest-playwright's fallback ``base_url`` fixture, a method
    of a plugin object that pytest 9.2 warns about (PytestRemovedIn10Warning)."""
    return None


@pytest.fixture
def app_config():
    """The portal as a demo visitor meets it, with real CSRF tokens in the forms."""
    return {
        "MAIL_SEND_AFTER_REQUEST": False,
        "WTF_CSRF_ENABLED": True,
        "DEMO": True,
        "MAIL_BACKEND": "file",
    }


@pytest.fixture
def live_server(app):
    """The app served over HTTP on a free port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # Chromium keeps connections open: do not wait for their threads at shutdown.
    server.daemon_threads = True
    server.block_on_close = False
    url = f"http://127.0.0.1:{server.server_port}"
    # Links in mails must point at this server.
    app.config["BASE_URL"] = url
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def visit(live_server, page):
    """The test's page on the live portal, with its console watched."""
    page.set_default_timeout(10_000)
    return Visit(page, live_server)

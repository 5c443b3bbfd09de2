"""What the browser tests share: axe, screenshots, keyboard moves, console watch."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from axe_playwright_python.sync_playwright import Axe

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 720}
MOBILE = {"width": 320, "height": 640}

# axe's default run leaves out several WCAG 2.1 and 2.2 rules.
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}
_axe = Axe()

FAILED_RESOURCE = re.compile(
    r"Failed to load resource: the server responded with a status of (\d+)"
)


def axe_violations(page) -> list[dict]:
    return _axe.run(page, options=AXE_OPTIONS).response["violations"]


def describe_violations(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v.get('impact')}): {v['help']} <{v.get('helpUrl', '')}>")
        for node in v["nodes"]:
            target = ", ".join(str(t) for t in node["target"])
            lines.append(f"    at {target}: {node.get('html', '')[:200]}")
            summary = node.get("failureSummary")
            if summary:
                lines.append("      " + summary.replace("\n", "\n      "))
    return "\n".join(lines)


def assert_accessible(page, label: str | None = None) -> None:
    """Zero axe violations with the WCAG 2.0/2.1/2.2 A and AA tags and best practices."""
    violations = axe_violations(page)
    where = label or page.url
    assert not violations, f"axe found violations on {where}:\n{describe_violations(violations)}"


def screenshot(page, name: str, mobile: bool = False) -> Path:
    """A full-page screenshot at 1280 px, and at 320 px when ``mobile``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, caret="initial")
    if mobile:
        size = page.viewport_size or DESKTOP
        page.set_viewport_size(MOBILE)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-320.png"), full_page=True, caret="initial")
        page.set_viewport_size(size)
    return path


def horizontal_overflow(page) -> int:
    """How many CSS pixels the page is wider than the window (0: no horizontal scroll)."""
    return page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


FOCUS_STATE = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) { return null; }
  const s = getComputedStyle(el);
  const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
  const shadow = s.boxShadow && s.boxShadow !== 'none';
  return {
    tag: el.tagName.toLowerCase(),
    type: el.getAttribute('type') || '',
    text: (el.innerText || el.value || el.getAttribute('aria-label') || el.id || '').trim().slice(0, 60),
    visible: Boolean(outline || shadow),
    focusVisible: el.matches(':focus-visible'),
  };
}"""

MATCHES = """([selector, text]) => {
  const el = document.activeElement;
  if (!el || !el.matches(selector)) { return false; }
  return text === null || (el.innerText || el.value || '').trim() === text;
}"""


class HtmxFormUnsendable(AssertionError):
    """A form that htmx would fail to send (its hx-target cannot be resolved)."""


HX_TARGET_VALID = """(value) => {
  if (value === null || value === 'this') { return true; }
  const selector = value.replace(/^(closest|find|next|previous) /, '');
  try { document.querySelector(selector); return true; } catch (e) { return false; }
}"""


class Visit:
    """A page of the portal seen by one test: its address, console, and keyboard."""

    def __init__(self, page, base_url: str):
        self.page = page
        self.base_url = base_url
        self.console_errors: list[str] = []
        self.focus_problems: list[str] = []
        self.focused: list[dict] = []
        self._allowed: set[tuple[str, int]] = set()
        self._statuses: dict[str, int] = {}
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.console_errors.append(f"page error: {error}"))
        page.on("response", self._on_response)

    # Addresses and navigation

    def url(self, path: str) -> str:
        return self.base_url + path

    def path(self) -> str:
        parts = urlsplit(self.page.url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def goto(self, path: str, status: int = 200):
        if status >= 400:
            self.allow_status(path, status)
        response = self.page.goto(self.url(path))
        assert response is not None
        assert response.status == status, f"{path}: HTTP {response.status}, expected {status}"
        return response

    def sign_in(self, email: str, password: str) -> None:
        """Open a session with a plain form post, sharing the page's cookies, for
        tests about the pages behind the sign-in rather than about the sign-in."""
        html = self.page.request.get(self.url("/connexion")).text()
        token = re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert token, "no CSRF token on /connexion"
        response = self.page.request.post(
            self.url("/connexion"),
            form={"csrf_token": token.group(1), "email": email, "password": password, "next": ""},
            max_redirects=0,
        )
        assert response.status == 303, f"sign-in as {email}: HTTP {response.status}"

    def wait_for_path(self, path: str) -> None:
        self.page.wait_for_url(re.compile(re.escape(self.base_url + path) + r"(\?.*)?$"))
        self.page.wait_for_load_state()

    # What a page must be

    def check(self, name: str, mobile: bool = False) -> None:
        """axe finds nothing (at 320 px too when ``mobile``), the console is
        clean, and a screenshot is kept."""
        self.page.wait_for_load_state()
        assert_accessible(self.page, f"{name} ({self.path()})")
        if mobile:
            size = self.page.viewport_size or DESKTOP
            self.page.set_viewport_size(MOBILE)
            try:
                assert_accessible(self.page, f"{name} at 320 px ({self.path()})")
            finally:
                self.page.set_viewport_size(size)
        self.assert_clean_console(name)
        screenshot(self.page, name, mobile=mobile)

    def allow_status(self, path: str, status: int) -> None:
        """An expected 4xx (a 404 page, a form shown again with 422) is not a console error."""
        self._allowed.add((urlsplit(self.url(path)).path, status))

    def assert_clean_console(self, where: str = "") -> None:
        errors, self.console_errors = self.console_errors, []
        assert not errors, f"console errors on {where or self.path()}:\n" + "\n".join(errors)

    def _on_response(self, response) -> None:
        self._statuses[response.url] = response.status

    def _on_console(self, message) -> None:
        if message.type != "error":
            return
        failed = FAILED_RESOURCE.match(message.text)
        if failed:
            url = (message.location or {}).get("url", "")
            key = (urlsplit(url).path, int(failed.group(1)))
            if key in self._allowed:
                return
        location = (message.location or {}).get("url", "")
        self.console_errors.append(f"console: {message.text} [{location}]")

    # The keyboard

    def tab_to(self, selector: str, text: str | None = None, limit: int = 40) -> None:
        """Press Tab until the focused element matches ``selector`` (and has
        ``text``), noting on the way whether every focused element shows it."""
        for _ in range(limit):
            self.page.keyboard.press("Tab")
            state = self.page.evaluate(FOCUS_STATE)
            if state:
                self.focused.append(state)
                if not state["visible"]:
                    self.focus_problems.append(f"{self.path()}: {state}")
            if self.page.evaluate(MATCHES, [selector, text]):
                return
        raise AssertionError(
            f"{self.path()}: {limit} presses of Tab never reached {selector!r} {text or ''}"
        )

    def type_into(self, selector: str, value: str) -> None:
        self.tab_to(selector)
        self.page.keyboard.type(value)

    def assert_htmx_form_sendable(self, form: str) -> None:
        """htmx resolves hx-target with querySelector: a value it cannot parse makes it
        throw on submit, and the form is never sent (with JavaScript on)."""
        target = self.page.get_attribute(form, "hx-target")
        if not self.page.evaluate(HX_TARGET_VALID, target):
            raise HtmxFormUnsendable(
                f"{self.path()}: {form} has hx-target={target!r}, which htmx cannot resolve: "
                "submitting it with JavaScript on throws and sends nothing"
            )

    def assert_focus_visible(self) -> None:
        kinds = {state["tag"] for state in self.focused}
        assert {"a", "button"} <= kinds, f"links and buttons were not all reached: {kinds}"
        assert not self.focus_problems, "focus not visible on:\n" + "\n".join(self.focus_problems)

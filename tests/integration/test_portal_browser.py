"""The portal in a real browser: Debian's Chromium, headless, driven by selenium through
Debian's chromium-driver, against a running Jumbe.

Skipped, saying why, where either is missing (``apt-get install chromium
chromium-driver``; ``.ci/run`` installs them when it can). Selenium blocks, so
each browser step runs in a thread while the event loop keeps serving the pages.
With ``JUMBE_SCREENSHOTS=DIR`` the main pages are saved there as PNGs (the
README's are made so: ``make screenshots``).
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from jumbe.app import Jumbe
from jumbe.services.messaging import SendRequest
from tests.integration.api_world import PDF
from tests.integration.signup_helpers import STRONG, last_mail, link_in, token_of

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
EMAIL = "wanjiku@duka.co.ke"
STAFF_EMAIL = "ops@jumbe.co.ke"
WAIT = 30.0

T = TypeVar("T")

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip(
        "portal browser tests need Debian's Chromium and chromium-driver"
        " (/usr/bin/chromium and /usr/bin/chromedriver): apt-get install chromium chromium-driver",
        allow_module_level=True,
    )

from selenium import webdriver  # noqa: E402  (only where a browser exists)
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support.expected_conditions import staleness_of  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument("--window-size=1280,900")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(2)
    try:
        yield driver
    finally:
        driver.quit()


async def step(fn: Callable[[], T]) -> T:
    """A blocking browser step, off the loop that serves the pages."""
    return await asyncio.to_thread(fn)


class Pages:
    """The browser at a running Jumbe: open, fill, submit, wait, photograph."""

    def __init__(self, driver: WebDriver, base: str) -> None:
        self.d = driver
        self.base = base
        shots = os.environ.get("JUMBE_SCREENSHOTS", "")
        self.shots = Path(shots) if shots else None

    def open(self, path: str) -> None:
        self.d.get(path if path.startswith("http") else self.base + path)

    def fill(self, **fields: str) -> None:
        for name, value in fields.items():
            element = self.d.find_element(By.NAME, name)
            if element.tag_name == "select":
                Select(element).select_by_value(value)
            else:
                element.clear()
                element.send_keys(value)

    def submit(self, label: str = "") -> None:
        """Press a form's button by its words (the last form's submit button otherwise), and
        wait until the page it leaves is gone: every form here posts and lands on a new
        page, and reading before that reads the old one (or a stale element of it)."""
        if label:
            xpath = f"//main//button[normalize-space()='{label}']"
        else:
            xpath = "(//main//button[@type='submit'])[last()]"
        leaving = self.d.find_element(By.TAG_NAME, "html")
        self.d.find_element(By.XPATH, xpath).click()
        WebDriverWait(self.d, WAIT).until(staleness_of(leaving), "the form's page to go")

    def text(self) -> str:
        return str(self.d.find_element(By.TAG_NAME, "main").text)

    def wait_for(self, element_id: str, wanted: str, within: float = WAIT) -> None:
        def shows(d: Any) -> bool:
            try:
                return wanted in d.find_element(By.ID, element_id).text
            except StaleElementReferenceException:  # the page reloaded under us
                return False

        WebDriverWait(self.d, within, poll_frequency=0.3).until(
            shows, f"#{element_id} to show {wanted!r}"
        )

    def shot(self, name: str) -> None:
        if self.shots is not None:
            self.shots.mkdir(parents=True, exist_ok=True)
            self.d.save_screenshot(str(self.shots / f"{name}.png"))


async def test_a_customers_day_in_the_browser(
    jumbe: Jumbe, browser: WebDriver, tmp_path: Path
) -> None:
    """Sign-up to verified sign-in, an M-Pesa top-up that credits the wallet, a sender ID
    application approved by staff, a Quick Send that reaches Delivered on the page."""
    p = Pages(browser, jumbe.base_url)
    offer = await jumbe.services.pricing.create_package(None, "safaricom", "Bulk", "0.80")
    _view, link = await jumbe.services.staff.create(STAFF_EMAIL, "Ops Desk")
    await jumbe.services.staff.set_password(token_of(link), STRONG)

    # sign up, open the mailed link, sign in
    def sign_up() -> None:
        p.open("/signup")
        p.shot("signup")
        p.fill(
            organisation="Duka Letu Ltd",
            name="Wanjiku Kamau",
            email=EMAIL,
            phone="0712 345 678",
            password=STRONG,
        )
        p.submit("Sign up")
        assert "Check your mail" in p.text(), p.text()

    await step(sign_up)
    mailed = link_in(await last_mail(jumbe, EMAIL))

    def verify_and_sign_in() -> None:
        p.open(mailed)
        assert "Email verified" in p.text(), p.text()
        p.open("/signin")
        p.fill(email=EMAIL, password=STRONG)
        p.shot("signin")
        p.submit("Sign in")
        assert browser.current_url.endswith("/dashboard"), browser.current_url
        assert "Duka Letu Ltd" in browser.page_source

    await step(verify_and_sign_in)

    # an M-Pesa top-up: the page waits for the payment and shows it credited
    def top_up() -> None:
        p.open("/billing")
        p.fill(package=offer.uuid, units="500", phone="0712345678")
        p.shot("billing")
        p.submit("Buy")
        p.wait_for("topup-status", "Completed")
        p.wait_for("balance", "500")
        p.shot("topup")

    await step(top_up)

    # apply for a sender ID with KYC documents
    document = tmp_path / "certificate.pdf"
    document.write_bytes(PDF)

    def apply() -> str:
        p.open("/senders/apply")
        p.fill(name="DUKALETU", carrier="safaricom", purpose="order receipts")
        browser.find_element(By.NAME, "business_registration").send_keys(str(document))
        browser.find_element(By.NAME, "authorisation_letter").send_keys(str(document))
        p.shot("apply")
        p.submit("Apply")
        p.wait_for("application-status", "PENDING")
        return str(browser.current_url)

    application = await step(apply)

    # staff review it in the same browser (their own cookie, their own sign-in)
    def staff_review() -> None:
        p.open("/staff/senders")
        assert "/staff/signin" in browser.current_url  # a customer's session is not staff
        p.fill(email=STAFF_EMAIL, password=STRONG)
        p.submit("Sign in")
        assert "DUKALETU" in p.text(), p.text()
        p.shot("staff-senders")
        browser.find_element(By.LINK_TEXT, "DUKALETU").click()
        p.shot("staff-review")
        p.submit("Send to the carrier")
        p.wait_for("application-status", "PROVIDER")
        p.submit("Approve")
        p.wait_for("application-status", "APPROVED")
        p.open(application)
        p.wait_for("application-status", "APPROVED")
        p.shot("application")

    await step(staff_review)

    # Quick Send with the approved sender: the counter counts, the page follows it
    def quick_send() -> None:
        p.open("/send")
        for typed, counted in (
            ("{€}", "6 characters (GSM-7), 1 part"),  # the extension set counts two each
            ("Karibu 😀", "9 UCS-2 characters (UCS-2), 1 part"),
            ("x" * 161, "161 characters (GSM-7), 2 parts"),
        ):
            p.fill(message=typed)
            assert counted in browser.find_element(By.ID, "counter").text, typed
        p.fill(sender="DUKALETU", to="0712345678", message="Habari! Oda yako iko tayari.")
        counter = browser.find_element(By.ID, "counter").text
        assert "28 characters (GSM-7), 1 part" in counter, counter
        p.shot("send")
        p.submit("Send")
        p.wait_for("status", "Delivered")
        p.shot("message")
        p.open("/dashboard")
        p.wait_for("today-delivered", "1")
        p.shot("dashboard")
        p.open("/developer")
        p.shot("developer")
        p.open("/team")
        assert EMAIL in p.text()
        p.shot("team")
        browser.set_window_size(390, 844)  # a phone
        p.open("/dashboard")
        p.shot("dashboard-phone")

    await step(quick_send)


async def test_a_forged_cross_account_url_is_refused(jumbe: Jumbe, browser: WebDriver) -> None:
    assert jumbe.demo is not None
    theirs = await jumbe.services.messaging.send(
        jumbe.demo.account_id, SendRequest(to="0712345678", text="the demo's secret")
    )
    p = Pages(browser, jumbe.base_url)

    def sign_up() -> None:
        p.open("/signup")
        p.fill(organisation="Other Ltd", name="O", email=EMAIL, phone="0712345678", password=STRONG)
        p.submit("Sign up")

    await step(sign_up)
    mailed = link_in(await last_mail(jumbe, EMAIL))

    def forge() -> None:
        p.open(mailed)
        p.open("/signin")
        p.fill(email=EMAIL, password=STRONG)
        p.submit("Sign in")
        p.open(f"/messages/{theirs.uuid}")
        assert "Message not found" in p.text(), p.text()
        assert "the demo's secret" not in browser.page_source
        assert not re.search(theirs.recipient, browser.page_source)

    await step(forge)

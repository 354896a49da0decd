"""The web console in a real browser (Playwright driving the OS's Chromium), over the
real services: a publisher and a vendor negotiate a license in the console, usage
arrives, the operator closes the period in the console, and the publisher's revenue and
statement show what settlement billed. Screenshots of every page are saved as test
artifacts (TEST_ARTIFACTS, default `test-artifacts/`)."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from google.protobuf.timestamp_pb2 import Timestamp
from licentia.licensing.v1 import licensing_service_pb2 as lapi
from licentia.metering.v1 import metering_service_pb2 as mapi
from licentia.metering.v1 import metering_service_pb2_grpc as mgrpc
from licentia.metering.v1 import resources_pb2 as mres
from licentia.settlement.v1 import settlement_service_pb2 as sapi
from licentia.settlement.v1 import settlement_service_pb2_grpc as sgrpc
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect, sync_playwright

from tests.conftest import OPERATOR_KEY, Client, eventually
from tests.console.conftest import Console

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None,
    reason=f"Chromium is not installed at {CHROMIUM} (apt-get install chromium; .ci/run "
    "installs it): the console is tested in a real browser only",
)
# The last whole hour: periods end on the hour.
HOUR = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", "test-artifacts")) / "console"


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def local_time(moment: datetime) -> str:
    """A datetime-local input's value for the browser's time zone (the test's)."""
    return moment.astimezone().strftime("%Y-%m-%dT%H:%M")


class Tab:
    """One party's browser tab; every console error or page error fails the test."""

    def __init__(self, browser: Browser, console: Console, who: str, width: int = 1280) -> None:
        self.context: BrowserContext = browser.new_context(
            viewport={"width": width, "height": 800 if width >= 1024 else 844},
            accept_downloads=True,
        )
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on(
            "response",
            lambda r: self.errors.append(f"{r.status} {r.url}") if r.status >= 500 else None,
        )
        self.console = console
        self.who = who

    def open(self, hash_route: str) -> Page:
        url = f"{self.console.url}/#/{hash_route}"
        if self.page.url == url:
            self.page.reload()
        else:
            self.page.goto(url)
        expect(self.page.locator("main")).to_have_attribute("data-shown", f"#/{hash_route}")
        return self.page

    def sign_in(self, account: str, key: str) -> None:
        page = self.open("signin")
        page.get_by_label("Account").fill(account)
        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{self.who}-{name}.png"), full_page=True)

    def expected_errors(self) -> list[str]:
        # A refused call shows in the page and in the browser's network log as a 4xx
        # ("Failed to load resource"); anything else is a console error.
        return [e for e in self.errors if "Failed to load resource" not in e]


def test_a_license_negotiated_used_and_settled_in_the_console(
    console: Console, browser: Browser
) -> None:
    m = console.market
    publisher = Tab(browser, console, "publisher")
    vendor = Tab(browser, console, "vendor")
    operator = Tab(browser, console, "operator")

    # The publisher signs in, creates an offer (USD 0.01 per answer, proposals at that
    # price or more accepted at once) and publishes it.
    publisher.sign_in(m.pa.name, m.pa.account.key)
    page = publisher.open(f"{m.pa.name}/overview")
    expect(page.get_by_text("No revenue yet")).to_be_visible()
    publisher.shot("overview-empty")
    page = publisher.open(f"{m.pa.name}/offers")
    offer_form = page.get_by_role("form", name="New offer")
    offer_form.get_by_label("Name").fill("Answers, all sections")
    offer_form.get_by_label("Price model").select_option("MODEL_PER_USE")
    offer_form.get_by_label("Price", exact=True).fill("0.01")
    offer_form.get_by_label("Auto-accept floor").fill("0.01")
    offer_form.get_by_label("Licensed from (your time)").fill(local_time(HOUR - timedelta(days=1)))
    offer_form.get_by_role("button", name="Create offer").click()
    page.get_by_role("button", name="Publish Answers, all sections").click()
    expect(page.get_by_role("button", name="Withdraw Answers, all sections")).to_be_visible()
    publisher.shot("offers")

    # Bad input is refused by the service, and the form says which field and why.
    offer_form = page.get_by_role("form", name="New offer")
    offer_form.get_by_label("Name").fill("Broken")
    offer_form.get_by_label("Currency").fill("XX")
    offer_form.get_by_label("Price", exact=True).fill("1")
    offer_form.get_by_role("button", name="Create offer").click()
    alert = offer_form.get_by_role("alert")
    expect(alert).to_contain_text("Check the form")
    expect(alert).to_contain_text("currency")

    # The vendor proposes below the floor: the proposal stays open for the publisher.
    vendor.sign_in(m.va.name, m.va.account.key)
    page = vendor.open(f"{m.va.name}/offers")
    propose = page.get_by_role("form", name="Propose on Answers, all sections")
    propose.get_by_label("Price").fill("0.005")
    propose.get_by_label("Note").fill("pilot volume")
    propose.get_by_role("button", name="Propose").click()
    expect(propose.get_by_role("status")).to_contain_text("sent")
    vendor.shot("offers")

    # The publisher counters at 0.008; the vendor accepts: a license.
    page = publisher.open(f"{m.pa.name}/proposals")
    expect(page.get_by_text("your turn")).to_be_visible()
    counter = page.get_by_role("form", name="Counter")
    counter.get_by_label("Price").fill("0.008")
    counter.get_by_role("button", name="Counter").click()
    expect(page.get_by_text("waiting")).to_be_visible()
    publisher.shot("proposals")
    page = vendor.open(f"{m.va.name}/proposals")
    page.get_by_role("button", name="Accept").click()
    expect(page.get_by_text("license ")).to_be_visible()
    vendor.shot("proposals")
    page = vendor.open(f"{m.va.name}/licenses")
    expect(page.get_by_text("USD 0.008 per use")).to_be_visible()
    page.get_by_role("button", name="Issue token").click()
    expect(page.locator("textarea.token")).to_have_value(re.compile(r"^[\w-]+\.[\w-]+\.[\w-]+$"))
    vendor.shot("licenses")
    licenses = m.va.lic.ListLicenses(lapi.ListLicensesRequest(vendor=m.va.name)).licenses
    (license_,) = [x for x in licenses if x.terms.price.amount_micros == 8_000]

    # Usage arrives (the vendor's own reporting, over gRPC): 25 answers = USD 0.20.
    meter = Client(console.metering.channel, m.va.account.key, mgrpc.MeteringServiceStub)
    # In the last whole hour, so that a period ending on the hour holds it.
    at = Timestamp()
    at.FromDatetime(HOUR - timedelta(minutes=10))
    event = mres.UsageEvent(
        id="console-1", license=license_.name, work=m.works_a[0], use="ai-input",
        unit=mres.UNIT_USES, quantity=25, occur_time=at, source="answers",
    )  # fmt: skip
    eventually(
        lambda: (
            meter.RecordUsage(mapi.RecordUsageRequest(events=[event])).results[0].status
            == mres.EventResult.STATUS_ACCEPTED
        )
    )
    page = vendor.open(f"{m.va.name}/charges")
    expect(page.get_by_text("$0.20").first).to_be_visible()
    vendor.shot("charges")
    vendor.open(f"{m.va.name}/usage")
    vendor.shot("usage")

    # The operator closes the period in the console.
    operator.sign_in("operator", OPERATOR_KEY)
    page = operator.open("operator/settlement")
    page.get_by_role("button", name="Close period").click()
    expect(page.get_by_role("status")).to_contain_text("Period 1 is closed")
    page = operator.open("operator/settlement")
    expect(page.get_by_text("balanced", exact=True).first).to_be_visible()
    settle = Client(console.settlement.channel, m.pa.account.key, sgrpc.SettlementServiceStub)
    (statement,) = settle.ListStatements(sapi.ListStatementsRequest(party=m.pa.name)).statements
    page.get_by_role("button", name=f"Verify {statement.name}").click()
    expect(page.get_by_text("valid", exact=True)).to_be_visible()
    # ...pays out the publisher's balance and confirms the transfer.
    page.get_by_role("button", name=f"Pay out {m.pa.name}'s balance").click()
    page.get_by_role("textbox", name="Bank reference").fill("SEPA-4471")
    page.get_by_role("button", name="Paid").click()
    expect(page.get_by_role("cell", name="SEPA-4471")).to_be_visible()
    operator.shot("settlement")
    page = operator.open("operator/accounts")
    expect(page.get_by_role("cell", name=m.vb.name, exact=True)).to_be_visible()
    new_key = page.get_by_role("form", name=f"New key for {m.vb.name}")
    new_key.get_by_role("textbox").fill("second key")
    new_key.get_by_role("button", name="New key").click()
    expect(new_key.get_by_role("status")).to_contain_text("Shown once")
    operator.shot("accounts")

    # The publisher's revenue and statement show what settlement billed (asked over gRPC).
    assert statement.gross == 20  # 25 x USD 0.008, in cents
    net = f"${statement.net / 100:.2f}"
    page = publisher.open(f"{m.pa.name}/overview")
    expect(page.locator("#net-revenue")).to_have_text(net)
    chart = page.get_by_role("img", name="Revenue per settlement period, net, by vendor (USD)")
    expect(chart.locator("rect")).to_have_count(1)
    publisher.shot("overview")
    page = publisher.open(f"{m.pa.name}/statements")
    expect(page.get_by_role("cell", name="$0.20").first).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download statement").first.click()
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
    assert rows[0][:3] == ["statement", "period", "currency"]
    assert rows[-1][8:13] == [
        "total",
        "0.20",
        "",
        f"{statement.commission / 100:.2f}",
        f"{statement.net / 100:.2f}",
    ]
    expect(page.get_by_role("cell", name="SEPA-4471")).to_be_visible()  # the payout
    with page.expect_download() as download:
        page.get_by_role("button", name="Download payouts CSV").click()
    payouts = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
    assert payouts[1][1:] == [
        m.pa.name,
        "USD",
        f"{statement.net / 100:.2f}",
        "STATE_PAID",
        "SEPA-4471",
    ]
    publisher.shot("statements")
    page = publisher.open(f"{m.pa.name}/licenses")
    suspend = page.get_by_role("form", name="Suspend")
    suspend.get_by_role("textbox").fill("audit")
    suspend.get_by_role("button", name="Suspend").click()
    expect(page.get_by_role("button", name="Resume")).to_be_visible()
    publisher.shot("licenses")

    # AI crawlers at the publisher's edge: three unsigned GPTBot requests the toll refused
    # (asked as nginx asks the edge) and one person's (not a crawler), shown per bot.
    for path, agent in [
        ("/news/1", "GPTBot/1.2"),
        ("/news/2", "GPTBot/1.2"),
        ("/news/3", "GPTBot/1.2"),
        ("/news/4", "Mozilla/5.0 Firefox/140.0"),
    ]:
        requests.get(f"{console.edge}/toll/nginx", timeout=10, headers={
            "X-Original-URI": path, "X-Original-Host": "news.example", "User-Agent": agent,
            "X-Licentia-Publisher": m.pa.name,
        })  # fmt: skip
    page = publisher.open(f"{m.pa.name}/crawlers")
    row = page.get_by_role("row", name="GPTBot")
    expect(row.get_by_role("cell").nth(5)).to_have_text("3")  # refused
    expect(row.get_by_role("cell").last).to_have_text("3")  # total
    expect(
        page.get_by_role("img", name="Crawler requests per day, by what the toll did")
    ).to_be_visible()
    publisher.shot("crawlers")
    # ...which another publisher's key, or a vendor's, does not see.
    for key in (m.pb.account.key, m.va.account.key):
        refused = requests.get(
            f"{console.url}/edge/crawlers", headers={"Authorization": f"Bearer {key}"}, timeout=10
        )
        assert (
            refused.status_code == 401 if key == m.va.account.key else refused.json()["rows"] == []
        )

    # A vendor's key cannot open another vendor's pages: the services refuse, the page says so.
    page = vendor.open(f"{m.vb.name}/licenses")
    expect(page.get_by_role("alert")).to_contain_text("Not allowed")
    vendor.shot("other-vendor-refused")

    # By keyboard: the first Tab reaches the skip link, which moves focus to the content.
    address = page.url
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    assert page.url == address

    # At a phone's width the pages still work.
    phone = Tab(browser, console, "publisher-phone", width=390)
    phone.sign_in(m.pa.name, m.pa.account.key)
    page = phone.open(f"{m.pa.name}/overview")
    expect(page.locator("#net-revenue")).to_have_text(net)
    phone.shot("overview")

    for tab in (publisher, vendor, operator, phone):
        assert tab.expected_errors() == [], tab.who
        tab.context.close()


def propose_on(tab: Tab, vendor: str, offer: str, price: str | None = None) -> Locator:
    """The vendor proposes on an offer (at its price, or `price`); the form's answer."""
    page = tab.open(f"{vendor}/offers")
    propose = page.get_by_role("form", name=f"Propose on {offer}")
    if price is not None:
        propose.get_by_label("Price").fill(price)
    propose.get_by_role("button", name="Propose").click()
    return propose.get_by_role("status")


def test_every_action_of_each_party_in_the_console(console: Console, browser: Browser) -> None:
    m = console.market
    publisher = Tab(browser, console, "actions-publisher")
    publisher.sign_in(m.pa.name, m.pa.account.key)

    # An offer with each price model, as the services show them back.
    page = publisher.open(f"{m.pa.name}/offers")
    models = [
        ("Tokens", "MODEL_PER_1K_TOKENS", {"Price": "0.25"}, "USD 0.25 per 1k tokens"),
        ("Crawls", "MODEL_PER_CRAWL", {"Price": "0.004"}, "USD 0.004 per crawl"),
        ("Yearly", "MODEL_SUBSCRIPTION", {"Price": "12000"}, "USD 12000.00 per year"),
        ("Shared", "MODEL_REVENUE_SHARE", {"Revenue share (%)": "12.5"}, "revenue share 12.5%"),
        ("Open", "MODEL_FREE", {}, "free"),
        ("Answers", "MODEL_PER_USE", {"Price": "0.01", "Auto-accept floor": "0.01"}, None),
    ]
    for name, model, fields, _ in models:
        offer_form = page.get_by_role("form", name="New offer")
        offer_form.get_by_label("Name").fill(name)
        offer_form.get_by_label("Price model").select_option(model)
        if model == "MODEL_SUBSCRIPTION":
            offer_form.get_by_label("Subscription interval").select_option("INTERVAL_YEAR")
        for label, value in fields.items():
            offer_form.get_by_label(label, exact=True).fill(value)
        offer_form.get_by_role("button", name="Create offer").click()
        expect(page.get_by_role("button", name=f"Publish {name}")).to_be_visible()
        page.get_by_role("button", name=f"Publish {name}").click()
        expect(page.get_by_role("button", name=f"Withdraw {name}")).to_be_visible()
    for name, _, _, shown in models:
        if shown:
            expect(page.get_by_role("row", name=name)).to_contain_text(shown)
    page.get_by_role("button", name="Withdraw Open").click()
    expect(page.get_by_role("row", name="Open")).to_contain_text("withdrawn")

    # Vendor B's low proposal is rejected; vendor A's at the floor is a license at once.
    other = Tab(browser, console, "actions-vendor-b")
    other.sign_in(m.vb.name, m.vb.account.key)
    expect(propose_on(other, m.vb.name, "Answers", "0.001")).to_contain_text("sent")
    page = publisher.open(f"{m.pa.name}/proposals")
    page.get_by_role("button", name="Reject").click()
    expect(page.get_by_role("row", name="vb")).to_contain_text("rejected")
    vendor = Tab(browser, console, "actions-vendor-a")
    vendor.sign_in(m.va.name, m.va.account.key)
    expect(propose_on(vendor, m.va.name, "Answers")).to_contain_text("Accepted at once")

    # The publisher suspends, resumes and revokes that license.
    page = publisher.open(f"{m.pa.name}/licenses")
    page.get_by_role("form", name="Suspend").get_by_role("button", name="Suspend").click()
    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_role("row", name="va")).to_contain_text("active")
    revoke = page.get_by_role("form", name="Revoke")
    revoke.get_by_role("textbox").fill("terms breached")
    revoke.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("row", name="va")).to_contain_text("revoked")
    expect(page.get_by_role("row", name="va")).to_contain_text("terms breached")

    # The vendor sets a budget; the operator a commission rate.
    page = vendor.open(f"{m.va.name}/charges")
    budget = page.get_by_role("form", name="Set budget")
    budget.get_by_label("Amount").fill("50")
    budget.get_by_role("button", name="Set budget").click()
    expect(page.get_by_text("Budget $50.00")).to_be_visible()
    operator = Tab(browser, console, "actions-operator")
    operator.sign_in("operator", OPERATOR_KEY)
    page = operator.open("operator/accounts")
    rate = page.get_by_role("form", name="Commission rate")
    rate.get_by_label("Publisher").select_option(m.pa.name)
    rate.get_by_label("Commission (%)").fill("12")
    rate.get_by_role("button", name="Set rate").click()
    expect(rate.get_by_role("status")).to_contain_text(f"{m.pa.name}: 12%")

    # A signed-out tab opens no page; a wrong key does not sign in.
    page = publisher.open(f"{m.pa.name}/overview")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.get_by_label("Account").fill(m.pa.name)
    page.get_by_label("API key").fill("not-a-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Not signed in")
    assert page.evaluate("sessionStorage.getItem('licentia.session')") is None

    for tab in (publisher, other, vendor, operator):
        assert tab.expected_errors() == [], tab.who
        tab.context.close()

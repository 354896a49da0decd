"""The `licentia` command for each party, against the five services running as processes
(SQLite): exit codes, output, `--json`, and clear one-line errors for bad input."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from services.launcher import Launcher
from services.samples.articles import ArticleGenerator
from tests.e2e.test_marketplace import service_env, settings_of

BODIES = [ArticleGenerator(seed=31).text(220) for _ in range(3)]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    data = tmp_path_factory.mktemp("cli")
    values = service_env(data, LICENTIA_DATABASE_URL="", LICENTIA_LICENSE_REFRESH_SECONDS="0.2")
    launcher = Launcher(settings_of(values), values)
    launcher.up()
    try:
        yield values
    finally:
        launcher.down()


def run(
    env: dict[str, str], *args: str, key: str = "", stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    extra = {"LICENTIA_API_KEY": key} if key else {}
    extra["COLUMNS"] = "200"  # a wide terminal: tables keep names on one line
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        env={**os.environ, **env, **extra},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stderr + result.stdout
    return result


def test_the_parties_from_a_terminal(env: dict[str, str], tmp_path: Path) -> None:
    ok(run(env, "operator", "create-publisher", "gazette", "--name", "The Gazette"))
    ok(run(env, "operator", "create-vendor", "answers", "--name", "Answers Inc"))
    publisher = json.loads(
        ok(run(env, "operator", "create-key", "publishers/gazette", "--json")).stdout
    )["key"]
    vendor = json.loads(ok(run(env, "operator", "create-key", "vendors/answers", "--json")).stdout)[
        "key"
    ]

    works = tmp_path / "works.jsonl"
    rows = [
        {"external_id": f"cms-{i}", "title": f"Story {i}", "body": body, "language": "en"}
        for i, body in enumerate(BODIES)
    ]
    works.write_text("".join(json.dumps(row) + "\n" for row in rows))
    imported = ok(
        run(
            env,
            "publisher",
            "import",
            str(works),
            "--publisher",
            "publishers/gazette",
            "--json",
            key=publisher,
        )
    )
    assert json.loads(imported.stdout)["outcomes"] == {"CREATED": 3}
    again = ok(
        run(
            env,
            "publisher",
            "import",
            str(works),
            "--publisher",
            "publishers/gazette",
            "--json",
            key=publisher,
        )
    )
    assert json.loads(again.stdout)["outcomes"] == {"UNCHANGED": 3}
    broken = tmp_path / "broken.jsonl"
    broken.write_text(
        json.dumps({"external_id": "b1", "title": "Fine", "body": "A fine article."})
        + "\n{not json\n"
    )
    bad = run(env, "publisher", "import", str(broken), "--publisher", "publishers/gazette",
              key=publisher)  # fmt: skip
    assert bad.returncode == 2
    assert f"{broken}:2:" in " ".join(bad.stderr.split()) and "UNKNOWN" not in bad.stderr
    assert "1 works before it were imported" in " ".join(bad.stderr.split())
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "a.html").write_text("<html><title>Harbour</title><p>The harbour reopens.</p></html>")
    ok(
        run(
            env,
            "publisher",
            "import",
            str(folder),
            "--publisher",
            "publishers/gazette",
            key=publisher,
        )
    )

    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    created = ok(run(
        env, "publisher", "create-offer", "--publisher", "publishers/gazette", "--name", "Answers",
        "--model", "per-use", "--price", "0.25", "--start", (hour - timedelta(hours=3)).isoformat(),
        "--publish", "--json", key=publisher,
    ))  # fmt: skip
    offer = json.loads(created.stdout)
    assert offer["state"] == "STATE_PUBLISHED" and offer["commission_bps"] == 1500
    listed = json.loads(ok(run(env, "vendor", "offers", "--json", key=vendor)).stdout)
    assert [o["name"] for o in listed] == [offer["name"]]
    proposal = ok(run(env, "vendor", "propose", offer["name"], "--json", key=vendor))
    license_name = json.loads(proposal.stdout)["license"]
    token = ok(run(env, "vendor", "token", license_name, key=vendor)).stdout.strip()
    assert token.count(".") == 2

    excerpt = " ".join(BODIES[1].split()[5:60])
    deadline = time.monotonic() + 20
    while True:
        checked = ok(run(env, "vendor", "check-text", "-", "--json", key=vendor, stdin=excerpt))
        matches = json.loads(checked.stdout).get("matches", [])
        if matches or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert matches and matches[0]["license_status"] == "LICENSE_STATUS_LICENSED"
    shown = ok(run(env, "vendor", "check-text", "-", key=vendor, stdin=excerpt))
    assert matches[0]["work"] in shown.stdout and "LICENSED" in shown.stdout

    events = tmp_path / "usage.jsonl"
    at = (hour - timedelta(minutes=30)).isoformat()
    events.write_text("".join(
        json.dumps({"id": f"u{i}", "license": license_name, "work": matches[0]["work"],
                    "use": "ai-input", "unit": "UNIT_USES", "quantity": 2, "occur_time": at}) + "\n"
        for i in range(10)
    ))  # fmt: skip
    reported = json.loads(
        ok(run(env, "vendor", "report-usage", str(events), "--json", key=vendor)).stdout
    )
    assert reported["counts"] == {"ACCEPTED": 10}
    rerun = json.loads(
        ok(run(env, "vendor", "report-usage", str(events), "--json", key=vendor)).stdout
    )
    assert rerun["counts"] == {"DUPLICATE": 10}

    operator = env["LICENTIA_OPERATOR_API_KEY"]
    ok(run(env, "settlement", "close", "--start", (hour - timedelta(hours=2)).isoformat(),
           "--end", hour.isoformat(), key=operator))  # fmt: skip
    invoices = json.loads(ok(run(env, "settlement", "invoices", "--json", key=vendor)).stdout)
    # 20 uses at $0.25, as a decimal with its currency (never bare cents)
    assert [(i["total"], i["currency"]) for i in invoices] == [("5.00", "USD")]
    balance = ok(run(env, "settlement", "trial-balance", key=operator))
    assert "balanced: True" in balance.stdout
    chart = tmp_path / "revenue.png"
    statements = ok(run(env, "publisher", "statements", "--party", "publishers/gazette",
                        "--png", str(chart), key=publisher))  # fmt: skip
    assert "4.25 USD" in statements.stdout  # $5.00 less 15%
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(chart) as drawn:  # revenue and usage panels, drawn by matplotlib
        assert drawn.size == (1000, 700)
    usage = json.loads(ok(run(
        env, "publisher", "usage", "--start", (hour - timedelta(hours=3)).isoformat(),
        "--end", hour.isoformat(), "--by", "vendor", "--every", "none", "--json", key=publisher,
    )).stdout)  # fmt: skip
    assert [(r["vendor"], r["quantity"], r["events"]) for r in usage] == [
        ("vendors/answers", "20", "10")
    ]
    paid = json.loads(ok(run(env, "settlement", "pay", "publishers/gazette", "--json",
                             key=operator)).stdout)  # fmt: skip
    assert (paid["amount"], paid["currency"], paid["state"]) == ("4.25", "USD", "STATE_PENDING")
    confirmed = ok(run(env, "settlement", "confirm-payout", paid["name"], "--reference",
                       "wire-77", "--json", key=operator))  # fmt: skip
    assert json.loads(confirmed.stdout)["state"] == "STATE_PAID"
    listed = json.loads(ok(run(env, "settlement", "payouts", "--json", key=operator)).stdout)
    assert [p["external_reference"] for p in listed] == ["wire-77"]
    (period,) = json.loads(ok(run(env, "settlement", "periods", "--json", key=operator)).stdout)
    assert period["state"] == "STATE_CLOSED"
    listed_statements = ok(run(env, "publisher", "statements", "--party", "publishers/gazette",
                               "--json", key=publisher))  # fmt: skip
    statement = json.loads(listed_statements.stdout)[0]
    verified = ok(run(env, "settlement", "verify-statement", statement["name"], key=operator))
    assert "valid (digest" in verified.stdout
    entries = json.loads(ok(run(env, "settlement", "ledger", "--account", "marketplace/revenue",
                                "--json", key=operator)).stdout)  # fmt: skip
    assert [(e["amount"], e["kind"]) for e in entries] == [("-0.75", "invoice")]
    csv_text = ok(run(env, "settlement", "export-payouts", key=operator)).stdout
    assert csv_text.startswith("payout,party,currency")
    assert paid["name"] in csv_text and "4.25" in csv_text


def test_errors_are_one_line_with_the_reason_and_a_hint(env: dict[str, str]) -> None:
    bad_key = run(env, "vendor", "licenses", key="not-a-key")
    assert bad_key.returncode == 1
    assert "UNAUTHENTICATED" in bad_key.stderr and "hint:" in bad_key.stderr
    operator = env["LICENTIA_OPERATOR_API_KEY"]
    bad_price = run(env, "publisher", "create-offer", "--publisher", "publishers/x", "--name", "x",
                    "--model", "per-use", "--price", "a lot", key=operator)  # fmt: skip
    assert bad_price.returncode == 2 and "not a decimal amount" in bad_price.stderr
    not_found = run(env, "settlement", "invoices", "--vendor", "vendors/nobody", key=operator)
    assert not_found.returncode == 0 and "invoices" in not_found.stdout
    bad_close = run(env, "settlement", "close", "--end", "2026-01-01T00:30:00Z", key=operator)
    assert bad_close.returncode == 1 and "INVALID_ARGUMENT" in bad_close.stderr
    assert "end_time" in bad_close.stderr


def test_negotiating_from_a_terminal(env: dict[str, str]) -> None:
    ok(run(env, "operator", "create-publisher", "courier", "--name", "The Courier"))
    ok(run(env, "operator", "create-vendor", "lab", "--name", "Model Lab"))
    publisher = json.loads(
        ok(run(env, "operator", "create-key", "publishers/courier", "--json")).stdout
    )["key"]
    vendor = json.loads(ok(run(env, "operator", "create-key", "vendors/lab", "--json")).stdout)[
        "key"
    ]
    created = ok(run(
        env, "publisher", "create-offer", "--publisher", "publishers/courier", "--name", "Tokens",
        "--model", "per-1k-tokens", "--price", "2.00", "--publish", "--json", key=publisher,
    ))  # fmt: skip
    offer = json.loads(created.stdout)["name"]
    proposed = json.loads(
        ok(run(env, "vendor", "propose", offer, "--price", "1.20", "--json", key=vendor)).stdout
    )
    assert proposed["state"] == "STATE_OPEN" and "license" not in proposed
    listed = json.loads(ok(run(env, "publisher", "proposals", "--json", key=publisher)).stdout)
    assert [(p["name"], p["turn"]) for p in listed] == [(proposed["name"], "PARTY_PUBLISHER")]
    ok(run(env, "publisher", "counter", proposed["name"], "--price", "1.60", key=publisher))
    mine = json.loads(ok(run(env, "vendor", "proposals", "--json", key=vendor)).stdout)
    assert [(p["name"], p["turn"]) for p in mine] == [(proposed["name"], "PARTY_VENDOR")]
    accepted = ok(run(env, "vendor", "accept", proposed["name"], "--json", key=vendor))
    license_terms = json.loads(accepted.stdout)["license"]["terms"]["price"]
    # A price as a decimal beside its currency, never micro-units.
    assert (license_terms["amount"], license_terms["currency"]) == ("1.6", "USD")
    assert "amount_micros" not in license_terms
    wrong_turn = run(
        env, "publisher", "counter", proposed["name"], "--price", "1.70", key=publisher
    )
    assert wrong_turn.returncode == 1 and "FAILED_PRECONDITION" in wrong_turn.stderr


def test_the_rest_of_the_api_from_a_terminal(env: dict[str, str], tmp_path: Path) -> None:
    """What the CLI used to lack: publish and withdraw, suspend/resume/revoke, RSL, works
    for vendors, the vendor's counter and reject, keys and their revocation, and a word
    when there is nothing to show."""
    ok(run(env, "operator", "create-publisher", "tribune", "--name", "The Tribune"))
    ok(run(env, "operator", "create-vendor", "crawlco", "--name", "Crawl Co"))
    publisher = json.loads(
        ok(run(env, "operator", "create-key", "publishers/tribune", "--json")).stdout
    )["key"]
    vendor = json.loads(ok(run(env, "operator", "create-key", "vendors/crawlco", "--json")).stdout)[
        "key"
    ]
    works = tmp_path / "works.jsonl"
    row = {"external_id": "t1", "title": "Tides", "body": BODIES[0], "language": "en"}
    works.write_text(json.dumps(row) + "\n")
    ok(run(env, "publisher", "import", str(works), "--publisher", "publishers/tribune",
           key=publisher))  # fmt: skip
    listed = json.loads(ok(run(env, "vendor", "works", "--publisher", "publishers/tribune",
                               "--json", key=vendor)).stdout)  # fmt: skip
    assert [w["title"] for w in listed] == ["Tides"]
    one = json.loads(ok(run(env, "vendor", "work", listed[0]["name"], key=vendor)).stdout)
    assert one["name"] == listed[0]["name"] and "body" not in one

    draft = json.loads(ok(run(
        env, "publisher", "create-offer", "--publisher", "publishers/tribune", "--name", "Crawls",
        "--model", "per-use", "--price", "0.01", "--floor", "0.01", "--tier", "1000:0.008",
        "--cap", "50", "--territory", "FR", "--territory", "DE", "--days", "30", "--json",
        key=publisher,
    )).stdout)  # fmt: skip
    assert draft["state"] == "STATE_DRAFT"
    terms = draft["terms"]
    assert terms["permitted_territories"] == ["FR", "DE"] and terms["duration"] == "2592000s"
    assert terms["price"]["tiers"] == [{"from_quantity": "1000", "amount": "0.008"}]
    assert terms["price"]["period_cap"] == "50"
    published = ok(run(env, "publisher", "publish", draft["name"], "--json", key=publisher))
    assert json.loads(published.stdout)["state"] == "STATE_PUBLISHED"
    rsl = ok(run(env, "publisher", "rsl", "--publisher", "publishers/tribune", key=publisher))
    assert "<rsl" in rsl.stdout and "License:" in rsl.stderr

    haggle = json.loads(ok(run(env, "vendor", "propose", draft["name"], "--price", "0.005",
                               "--json", key=vendor)).stdout)  # fmt: skip
    ok(run(env, "publisher", "counter", haggle["name"], "--price", "0.008", key=publisher))
    ok(run(env, "vendor", "reject", haggle["name"], key=vendor))
    mine = json.loads(ok(run(env, "vendor", "proposals", "--json", key=vendor)).stdout)
    assert [p["state"] for p in mine if p["name"] == haggle["name"]] == ["STATE_REJECTED"]

    license_name = json.loads(
        ok(run(env, "vendor", "propose", draft["name"], "--json", key=vendor)).stdout
    )["license"]
    work = listed[0]["name"]
    where = ["--territory", "FR"]  # the offer covers FR and DE
    allowed = ok(run(env, "vendor", "check-permission", work, *where, key=vendor)).stdout
    assert f"allowed under {license_name} at 0.01 USD" in " ".join(allowed.split())
    delivered = json.loads(
        ok(run(env, "vendor", "content", work, *where, "--json", key=vendor)).stdout
    )
    assert delivered["body"] == BODIES[0] and delivered["license"] == license_name
    token = ok(run(env, "vendor", "token", license_name, key=vendor)).stdout.strip()
    assert "valid" in ok(run(env, "vendor", "verify-token", token, key=vendor)).stdout
    assert run(env, "vendor", "verify-token", token[:-4] + "AAAA", key=vendor).returncode == 1
    (version,) = json.loads(ok(run(env, "publisher", "versions", work, "--json",
                                   key=publisher)).stdout)  # fmt: skip
    assert version["version"] == 1
    exported = tmp_path / "license.xml"
    exported.write_text(rsl.stdout)
    imported_offers = ok(run(env, "publisher", "import-rsl", str(exported), "--publisher",
                             "publishers/tribune", "--json", key=publisher))  # fmt: skip
    assert {o["state"] for o in json.loads(imported_offers.stdout)} == {"STATE_DRAFT"}
    for command, state in (("suspend", "SUSPENDED"), ("resume", "ACTIVE"), ("revoke", "REVOKED")):
        reason = ["--reason", "unpaid"] if command != "resume" else []
        changed = ok(run(env, "publisher", command, license_name, *reason, "--json",
                         key=publisher))  # fmt: skip
        assert json.loads(changed.stdout)["state"] == f"STATE_{state}"
    withdrawn = ok(run(env, "publisher", "withdraw", draft["name"], "--json", key=publisher))
    assert json.loads(withdrawn.stdout)["state"] == "STATE_WITHDRAWN"

    assert "no charges in the open period" in ok(run(env, "vendor", "charges", key=vendor)).stdout
    usage = tmp_path / "usage.jsonl"
    usage.write_text("".join(
        json.dumps({"id": f"p{i}", "license": license_name, "work": listed[0]["name"],
                    "use": "ai-input", "unit": "UNIT_USES", "quantity": 1}) + "\n"
        for i in range(5)
    ))  # fmt: skip
    wrong_party = run(env, "vendor", "report-usage", str(usage), key=publisher)
    assert wrong_party.returncode == 1 and "REASON_UNSPECIFIED" not in wrong_party.stdout
    assert wrong_party.stderr.strip().splitlines() == [
        "licentia: PERMISSION_DENIED: only vendors (and Licentia services) report usage "
        "(5 events not recorded)"
    ]
    operator = env["LICENTIA_OPERATOR_API_KEY"]
    rate = ok(run(env, "operator", "commission", "publishers/tribune", "--bps", "1200",
                  key=operator))  # fmt: skip
    assert "commission 12%" in rate.stdout
    cleared = ok(run(env, "operator", "commission", "publishers/tribune", "--clear", "--json",
                     key=operator))  # fmt: skip
    assert json.loads(cleared.stdout) == {"publisher": "publishers/tribune", "commission_bps": 1500}
    jwks = json.loads(ok(run(env, "operator", "signing-keys", key=operator)).stdout)
    assert jwks["keys"] and "active key" in run(env, "operator", "signing-keys",
                                                key=operator).stderr  # fmt: skip
    assert "signing with" in ok(run(env, "operator", "rotate-key", key=operator)).stdout
    budgeted = ok(run(env, "vendor", "budget", "--vendor", "vendors/crawlco", "--amount", "100",
                      key=vendor))  # fmt: skip
    assert "budget 100.00 USD per period" in budgeted.stdout
    pool = ok(run(env, "vendor", "attribution-pool", "--vendor", "vendors/crawlco", "--amount",
                  "10", key=vendor))  # fmt: skip
    assert "pool of 10 USD for period" in pool.stdout
    public = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    jwk = tmp_path / "bot.jwk"
    x = base64.urlsafe_b64encode(public).rstrip(b"=").decode()
    jwk.write_text(json.dumps({"kty": "OKP", "crv": "Ed25519", "x": x}))
    bot = json.loads(ok(run(env, "vendor", "add-bot", "--vendor", "vendors/crawlco",
                            "--user-agent", "CrawlCoBot/", "--key", str(jwk), "--json",
                            key=vendor)).stdout)  # fmt: skip
    assert len(bot["key_ids"]) == 1
    bots = json.loads(ok(run(env, "vendor", "bots", "--vendor", "vendors/crawlco", "--json",
                             key=vendor)).stdout)  # fmt: skip
    assert [b["name"] for b in bots] == [bot["name"]]
    ok(run(env, "vendor", "remove-bot", bot["name"], key=vendor))
    client = json.loads(ok(run(env, "operator", "create-oauth-client", "vendors/crawlco",
                               "--json", key=operator)).stdout)  # fmt: skip
    assert client["client_secret"]
    (listed_client,) = json.loads(ok(run(env, "operator", "oauth-clients", "vendors/crawlco",
                                         "--json", key=operator)).stdout)  # fmt: skip
    assert listed_client["client_id"] == client["client_id"]
    ok(run(env, "operator", "revoke-oauth-client", client["name"], key=operator))
    ok(run(env, "publisher", "delete-work", work, key=publisher))
    remaining = json.loads(ok(run(env, "vendor", "works", "--publisher", "publishers/tribune",
                                  "--json", key=vendor)).stdout)  # fmt: skip
    assert remaining == []
    (key,) = json.loads(ok(run(env, "operator", "keys", "vendors/crawlco", "--json",
                               key=operator)).stdout)  # fmt: skip
    ok(run(env, "operator", "revoke-key", key["name"], key=operator))
    # At once in the catalog (other services within LICENTIA_AUTH_CACHE_TTL_SECONDS).
    refused = run(env, "vendor", "works", key=vendor)
    assert refused.returncode == 1 and "UNAUTHENTICATED" in refused.stderr

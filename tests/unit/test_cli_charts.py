"""The publisher's chart: revenue per period and usage per day, per vendor, on a time
axis with labelled axes (matplotlib)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image

from services.cli import charts


def test_revenue_and_usage_over_time_per_vendor(tmp_path: Path) -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    revenue = {
        start + timedelta(days=7 * i): {"vendors/a": 1_000 * (i + 1), "vendors/b": 250 * i}
        for i in range(4)
    }
    usage = {start + timedelta(days=d): {"vendors/a": 10 + d, "vendors/b": d} for d in range(28)}
    out = tmp_path / "revenue.png"
    charts.png_revenue(out, "publishers/gazette: revenue and usage", revenue, usage, "USD")
    with Image.open(out) as image:
        assert image.size == (1000, 700)
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 50  # bars, lines, text: not a blank page


def test_an_empty_chart_is_still_a_chart(tmp_path: Path) -> None:
    out = tmp_path / "empty.png"
    charts.png_revenue(out, "nothing yet", {}, {}, "EUR")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

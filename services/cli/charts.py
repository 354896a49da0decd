"""Revenue charts: bars in the terminal, and revenue and usage over time as a PNG
(matplotlib)."""

from __future__ import annotations

import itertools
from datetime import datetime
from pathlib import Path

from rich.text import Text

from services.cli.output import money
from services.runtime.money_text import minor_digits

WIDTH = 40


def terminal_bars(title: str, values: dict[str, int], currency: str) -> Text:
    out = Text(f"{title}\n", style="bold")
    top = max((abs(v) for v in values.values()), default=0) or 1
    for label, value in values.items():
        bar = "█" * max(1 if value else 0, round(WIDTH * abs(value) / top))
        out.append(f"  {label:>8} ")
        out.append(bar, style="green" if value >= 0 else "red")
        out.append(f" {money(value, currency)}\n")
    return out


def png_revenue(
    path: Path,
    title: str,
    revenue: dict[datetime, dict[str, int]],
    usage: dict[datetime, dict[str, int]],
    currency: str,
) -> None:
    """Net revenue per period and usage per day, one series per vendor, on a time axis
    (matplotlib, drawn off screen)."""
    import matplotlib

    matplotlib.use("Agg")  # no display: a file only
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    vendors = sorted({v for row in [*revenue.values(), *usage.values()] for v in row})
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    figure.suptitle(title)
    periods = sorted(revenue)
    base = [0.0] * len(periods)
    width = _bar_width(periods)
    for vendor in vendors:
        values = [revenue[p].get(vendor, 0) / 10 ** minor_digits(currency) for p in periods]
        top.bar(periods, values, width=width, bottom=base, label=vendor, align="edge")
        base = [b + v for b, v in zip(base, values, strict=True)]
    top.set_ylabel(f"net revenue ({currency})")
    top.set_title("revenue per settlement period, by vendor", fontsize="medium")
    top.grid(axis="y", alpha=0.3)
    days = sorted(usage)
    for vendor in vendors:
        bottom.plot(days, [usage[d].get(vendor, 0) for d in days], marker="o", label=vendor)
    bottom.set_ylabel("usage events reported")
    bottom.set_xlabel("time (UTC)")
    bottom.set_title("usage per day, by vendor", fontsize="medium")
    bottom.grid(alpha=0.3)
    bottom.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d %H:%M"))
    figure.autofmt_xdate()
    if vendors:
        top.legend(loc="upper left", fontsize="small")
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _bar_width(periods: list[datetime]) -> float:
    """A bar a period wide, in days (matplotlib's date unit); an hour when alone."""
    if len(periods) < 2:
        return 1 / 24
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(periods)]
    return 0.8 * min(gaps) / 86_400

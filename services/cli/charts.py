"""Revenue charts: bars in the terminal, and the same as a PNG (Pillow)."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text

from services.cli.output import money

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


def png_bars(path: Path, title: str, values: dict[str, int], currency: str) -> None:
    from PIL import Image, ImageDraw  # only when a PNG is asked for

    width, height, margin = 720, 360, 48
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((margin, 16), title, fill="black")
    top = max((abs(v) for v in values.values()), default=0) or 1
    slot = (width - 2 * margin) / max(len(values), 1)
    base = height - margin
    for i, (label, value) in enumerate(values.items()):
        bar = (base - margin) * abs(value) / top
        left = margin + i * slot + slot * 0.15
        right = margin + (i + 1) * slot - slot * 0.15
        draw.rectangle((left, base - bar, right, base), fill="#2e7d32" if value >= 0 else "#c62828")
        draw.text((left, base + 6), label, fill="black")
        draw.text((left, base - bar - 14), money(value, currency), fill="black")
    draw.line((margin, base, width - margin, base), fill="black")
    image.save(path, format="PNG")

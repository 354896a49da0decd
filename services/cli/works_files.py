"""Works from files for `licentia publisher import`: JSON Lines, CSV, or a folder of
text, HTML or Markdown files. Fields: external_id, title, body, language, section, tags,
authors, canonical_url (CSV lists split on `;`)."""

from __future__ import annotations

import csv
import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from licentia.catalog.v1 import resources_pb2 as res

TEXT_SUFFIXES = {".txt", ".md", ".html", ".htm"}
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


class BadInput(ValueError):
    """A file or line that cannot become a work (named, with the reason)."""


def read_works(path: Path, language: str = "en") -> Iterator[res.Work]:
    if path.is_dir():
        yield from _folder(path, language)
    elif path.suffix == ".jsonl":
        yield from _jsonl(path)
    elif path.suffix == ".csv":
        yield from _csv(path)
    else:
        raise BadInput(f"{path}: import a .jsonl or .csv file, or a folder of text or HTML files")


def count_works(path: Path) -> int:
    if path.is_dir():
        return sum(1 for p in path.rglob("*") if p.suffix.lower() in TEXT_SUFFIXES)
    with path.open(encoding="utf-8") as lines:
        rows = sum(1 for line in lines if line.strip())
    return rows - 1 if path.suffix == ".csv" else rows


def _jsonl(path: Path) -> Iterator[res.Work]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield _work(json.loads(line))
            except (ValueError, TypeError) as error:
                raise BadInput(f"{path}:{number}: {error}") from error


def _csv(path: Path) -> Iterator[res.Work]:
    with path.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            fields: dict[str, Any] = {k: v for k, v in row.items() if v}
            for listed in ("tags", "authors"):
                if listed in fields:
                    fields[listed] = [x.strip() for x in fields[listed].split(";") if x.strip()]
            try:
                yield _work(fields)
            except (ValueError, TypeError) as error:
                raise BadInput(f"{path}:{number}: {error}") from error


def _folder(root: Path, language: str) -> Iterator[res.Work]:
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in TEXT_SUFFIXES):
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix.lower() in (".html", ".htm"):
            found = _TITLE.search(text)
            title = html.unescape(found.group(1)).strip() if found else path.stem
        else:
            first = text.strip().splitlines()[0] if text.strip() else path.stem
            title = first.lstrip("# ").strip()
        yield res.Work(
            external_id=str(path.relative_to(root)),
            title=title[:1000],
            body=text,
            language=language,
        )


def _work(fields: dict[str, Any]) -> res.Work:
    known = {f.name for f in res.Work.DESCRIPTOR.fields}
    unknown = set(fields) - known
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}")
    return res.Work(**fields)

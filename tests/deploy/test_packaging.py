"""The image installs the package from a wheel (`pip install .`), not from this tree: every
data file a component reads at run time must be named in the package data, or the image
runs without it (the edge's AI crawler list, the console's pages)."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_data_file_under_services_ships_in_the_wheel() -> None:
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]
    missing = []
    for path in (ROOT / "services").rglob("*"):
        if path.is_dir() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
            continue
        relative = path.relative_to(ROOT)
        shipped = False
        for package, patterns in package_data.items():
            base = ROOT if package == "*" else ROOT / package.replace(".", "/")
            inside = path.parent if package == "*" else base
            if package != "*" and base not in path.parents:
                continue
            name = str(path.relative_to(inside)) if package != "*" else path.name
            shipped |= any(fnmatch.fnmatch(name, pattern) for pattern in patterns)
        if not shipped:
            missing.append(str(relative))
    assert missing == []
    assert (ROOT / "services/console/static/index.html").exists()

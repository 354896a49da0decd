"""Builds licentia-client: the client library (licentia_client) and the `licentia`
package generated from the protos, with typed stubs.

In a clone both come from the repository's root; in an sdist, from beside this file
(the sdist carries copies of them)."""

from __future__ import annotations

import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = Path(__file__).resolve().parent
SOURCES = ("licentia_client", "protos")


def source(name: str) -> Path:
    beside = HERE / name
    return beside if beside.exists() else HERE.parent.parent / name


def generate(protos: Path, out: Path) -> None:
    from grpc_tools import protoc

    files = sorted(str(p.relative_to(protos)) for p in protos.rglob("*.proto"))
    plugins = Path(tempfile.mkdtemp(prefix="licentia-protoc-"))
    for name, entry in (("protoc-gen-mypy", "main"), ("protoc-gen-mypy_grpc", "grpc")):
        # The typed-stub plugins, run by this interpreter: a build environment's scripts
        # are not always on PATH, its modules always are.
        plugin = plugins / name
        plugin.write_text(
            f"#!{sys.executable}\nimport sys\nsys.path[:0] = {sys.path!r}\n"
            f"from mypy_protobuf.main import {entry}\n{entry}()\n"
        )
        plugin.chmod(0o755)
    args = [
        "grpc_tools.protoc",
        f"-I{protos}",
        f"-I{resources.files('grpc_tools') / '_proto'}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--plugin=protoc-gen-mypy={plugins / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={plugins / 'protoc-gen-mypy_grpc'}",
        f"--mypy_out={out}",
        f"--mypy_grpc_out={out}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for package in [p for p in (out / "licentia").rglob("*") if p.is_dir()] + [out / "licentia"]:
        (package / "__init__.py").touch()
        (package / "py.typed").touch()


class BuildPy(build_py):
    def run(self) -> None:
        super().run()
        out = Path(self.build_lib)
        shutil.copytree(
            source("licentia_client"), out / "licentia_client", dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )  # fmt: skip
        generate(source("protos"), out)


class Sdist(sdist):
    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        for name in SOURCES:
            target = Path(base_dir) / name
            if not target.exists():
                shutil.copytree(
                    source(name), target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
                )


class AssembledDistribution(Distribution):
    """The packages are assembled by BuildPy, not listed: make sure it runs."""

    def has_pure_modules(self) -> bool:
        return True


setup(cmdclass={"build_py": BuildPy, "sdist": Sdist}, distclass=AssembledDistribution)

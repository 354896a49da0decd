"""Print the project's runtime and dev dependencies from pyproject.toml, one per line.

Lets `make setup` install the pinned dependencies before the generated code exists
(the package itself is installed afterwards, with --no-deps).
"""

import tomllib
from pathlib import Path

project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())["project"]
for requirement in [*project["dependencies"], *project["optional-dependencies"]["dev"]]:
    print(requirement)

"""`make demo KEEP=1` as a person runs it: the demo as a real process plays the story,
prints the console's address and the parties' sign-ins, keeps the marketplace serving
(the console's JSON face answers a printed key), and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import requests


def test_the_demo_keeps_the_marketplace_running_until_interrupted() -> None:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("LICENTIA_DATABASE_URL", None)
    demo = subprocess.Popen(
        [sys.executable, "-m", "tools.demo", "--keep"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 300
        assert demo.stdout is not None
        for line in demo.stdout:
            lines.append(line)
            if "keeps running until Ctrl-C" in line or time.monotonic() > deadline:
                break
        output = "".join(lines)
        assert "keeps running until Ctrl-C" in output, output[-3000:]
        url = re.search(r"the web console, on the same marketplace: (http://\S+/)", output)
        assert url, output[-3000:]
        sign_ins = dict(re.findall(r"^\s+((?:publishers|vendors)/\S+)\s+(\S+)$", output, re.M))
        assert len(sign_ins) == 5, output[-2000:]
        publisher, key = next((a, k) for a, k in sign_ins.items() if a.startswith("publishers/"))
        page = requests.get(url.group(1), timeout=10)
        assert page.status_code == 200 and "Licentia console" in page.text
        statements = requests.post(
            f"{url.group(1)}licentia.settlement.v1.SettlementService/ListStatements",
            json={"party": publisher},
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        assert statements.status_code == 200 and statements.json()["statements"], statements.text
    finally:
        demo.send_signal(signal.SIGINT)
        rest, _ = demo.communicate(timeout=120)
    assert demo.returncode == 0, rest[-3000:]
    assert "all exited cleanly" in rest

"""The README's example runs as written against a real server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_guide_example_runs(server):
    text = README.read_text()
    block = re.search(r"## The guide's code, as written\n\n```python\n(.*?)```", text, re.S)
    assert block, "the README lost its example"
    env = {**os.environ, "LEARNING_SERVER": server.address}
    out = subprocess.run([sys.executable, "-c", block.group(1)], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "'task_type': 'strategic_planning'" in out.stdout and "'agent_name': 'director'" in out.stdout
    assert int(server.sql("SELECT count(*) FROM agents.execution_log WHERE agent_name = 'director'")) >= 1

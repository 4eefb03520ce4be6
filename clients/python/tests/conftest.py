"""Fixtures: a real learning-server process on a real PostgreSQL database.

Needs ``LEARNING_TEST_DATABASE_URL`` (a PostgreSQL server the tests may create databases on;
scripts/test.sh starts a throwaway one) and the built server (``swift build``; the binary is
taken from ``LEARNING_SERVER_BINARY`` or the repository's ``.build/debug/learning-server``).
Each server gets a new empty database.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Dict, Optional

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _binary() -> str:
    explicit = os.environ.get("LEARNING_SERVER_BINARY")
    candidates = [explicit] if explicit else [str(ROOT / ".build" / "debug" / "learning-server"),
                                              str(ROOT / ".build" / "release" / "learning-server")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(f"learning-server is not built ({', '.join(c for c in candidates if c)}): run `swift build` first")


def fresh_database() -> str:
    """A new empty database on the test PostgreSQL server."""
    url = os.environ.get("LEARNING_TEST_DATABASE_URL")
    if not url:
        pytest.fail("LEARNING_TEST_DATABASE_URL is not set: run the tests with scripts/test.sh (make test)")
    parts = urllib.parse.urlsplit(url)
    host, port, user = parts.hostname or "localhost", parts.port or 5432, parts.username or "postgres"
    name = "pyclient_" + uuid.uuid4().hex[:16]
    subprocess.run(["createdb", "-h", host, "-p", str(port), "-U", user, name], check=True, capture_output=True)
    return f"postgresql://{user}@{host}:{port}/{name}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A learning-server process; ``address`` is ``127.0.0.1:PORT``."""

    def __init__(self, database_url: Optional[str] = None, env: Optional[Dict[str, str]] = None, port: int = 0) -> None:
        self.database_url = database_url or fresh_database()
        self.env = dict(env or {})
        self.port = port
        self.process: Optional[subprocess.Popen] = None
        self.output: list[str] = []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        return "".join(self.output)

    def start(self, timeout: float = 60.0) -> "Server":
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LEARNING_DATABASE_URL": self.database_url,
               "LEARNING_LOG_LEVEL": "INFO", **self.env}
        self.output = []
        self.process = subprocess.Popen([_binary(), "--port", str(self.port)], env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, bufsize=1)
        threading.Thread(target=self._read, args=(self.process,), daemon=True).start()
        deadline = time.time() + timeout
        while time.time() < deadline and self.process.poll() is None:
            match = re.search(r"listening on [^ ]+:(\d+)", self.log)
            if match and "start-up complete" in self.log:
                self.port = int(match.group(1))
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"learning-server did not start:\n{self.log[-4000:]}")

    def _read(self, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.output.append(line)

    def stop(self) -> int:
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        code = self.process.returncode
        self.process = None
        return code

    # REST twins of the RPCs, for comparing shapes.
    def rest(self, method: str, path: str, body: Any = None, headers: Optional[Dict[str, str]] = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://{self.address}{path}", data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def sql(self, query: str) -> str:
        """One value from the server's database (psql), for checks of what was stored."""
        out = subprocess.run(["psql", self.database_url, "-At", "-v", "ON_ERROR_STOP=1", "-c", query],
                             check=True, capture_output=True, text=True)
        return out.stdout.strip()


@pytest.fixture(scope="module")
def server():
    """One server for a test module (tests use their own agent names)."""
    instance = Server().start()
    yield instance
    instance.stop()


@pytest.fixture
def fresh_server():
    """A server of its own on an empty database, for tests that count everything."""
    instance = Server().start()
    yield instance
    instance.stop()


@pytest.fixture
def make_server():
    """Starts servers with settings of the test's choosing; stops them all afterwards."""
    made: list[Server] = []

    def make(**kwargs: Any) -> Server:
        instance = Server(**kwargs)
        made.append(instance)
        return instance

    yield make
    for instance in made:
        instance.stop()


def name(prefix: str) -> str:
    """A unique agent name for one test."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"

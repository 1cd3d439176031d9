"""Real Celery worker processes for the tests that are about workers: started on the test's
database, media folder, cache prefix and test-sized profiles, and stopped with the test."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from scenecart.settings import test as test_settings

ROOT = Path(__file__).resolve().parent.parent.parent
WORKER_QUEUES = ",".join(test_settings.SCENECART_WORKER_QUEUES)
IN_CI = os.environ.get("CI", "").lower() == "true"


def stop(process: subprocess.Popen[bytes], *, timeout: float) -> None:
    """Ask a server the suite started to stop; kill it if it does not within ``timeout``."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def worker_database_url() -> str:
    """A URL for the test database pytest-django created, for a worker in another process."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def purge_broker() -> None:
    """Drop messages a previous run left in the broker, so the worker sees only ours."""
    from scenecart.celery import app

    options = app.conf.broker_transport_options or {}
    if "data_folder_in" in options:
        shutil.rmtree(Path(str(options["data_folder_in"])).parent, ignore_errors=True)
        for key in ("data_folder_in", "data_folder_out", "control_folder"):
            Path(str(options[key])).mkdir(parents=True, exist_ok=True)
        return
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in WORKER_QUEUES.split(","):
            channel.queue_purge(queue)


@dataclass
class WorkerStarter:
    """Starts real Celery worker processes for a test, on the test's database, media folder,
    cache prefix and test-sized profiles; ``extra_env`` adds settings (provider endpoints)."""

    settings: Any
    tmp_path: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, queues: str = WORKER_QUEUES, concurrency: int = 2) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "scenecart.settings.test",
            "DATABASE_URL": worker_database_url(),
            "MEDIA_ROOT": str(self.settings.MEDIA_ROOT),
            "SCENECART_TEST_SMALL_VIDEOS": "1",
            "SCENECART_TEST_CACHE_PREFIX": self.settings.CACHES["default"]["KEY_PREFIX"],
            **self.extra_env,
        }
        log_path = self.tmp_path / f"worker-{len(self.started)}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    sys.executable, "-m", "celery", "-A", "scenecart", "worker",
                    "-Q", queues, "-c", str(concurrency), "-n", f"test-{uuid.uuid4().hex[:8]}@%h",
                    "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group, so the worker and its pool go down together.
                start_new_session=True,
            )  # fmt: skip
        process.log_path = log_path  # type: ignore[attr-defined]
        self.started.append(process)
        deadline = time.monotonic() + 60
        while b" ready." not in log_path.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"Celery worker did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        return process

    def stop_all(self) -> None:
        """Kill every worker with its pool, at once: the test is over, and a warm shutdown of
        the filesystem broker's polling loop takes five seconds a worker for nothing."""
        for process in self.started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            if process.returncode not in (0, -15, -9):
                sys.stderr.write(process.log_path.read_text()[-3000:])  # type: ignore[attr-defined]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

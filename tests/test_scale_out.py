"""Scenecart spread over processes as production runs it, and a broker that goes away.

- Two worker processes on separate queues (one renders on ``render.local``, one plans,
  submits and assembles on ``default``, ``render.remote`` and ``assemble``), the configured
  database and broker (PostgreSQL and Redis in the services pass) and S3 (a moto server over
  HTTP) generate a small catalog; each worker only ever runs its own queues' tasks.
- Redis restarted, without persistence, in the middle of a bulk job: the worker reconnects,
  the periodic sweep re-queues what the restart lost, and the job finishes.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_django import Settings

from rendering.models import Segment, Video
from tests.support.factories import make_merchant, make_product
from tests.support.workers import IN_CI, ROOT, WorkerStarter, free_port, worker_database_url

pytestmark = [pytest.mark.worker]


def s3_env(s3_storage: dict[str, Any]) -> dict[str, str]:
    return {
        "SCENECART_STORAGE": "s3",
        "AWS_STORAGE_BUCKET_NAME": str(s3_storage["bucket_name"]),
        "AWS_ACCESS_KEY_ID": str(s3_storage["access_key"]),
        "AWS_SECRET_ACCESS_KEY": str(s3_storage["secret_key"]),
        "AWS_S3_REGION_NAME": str(s3_storage["region_name"]),
        "AWS_S3_ENDPOINT_URL": str(s3_storage["endpoint_url"]),
    }


def manage(
    *args: str, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """A management command in its own process, as an operator or beat would run it."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "scenecart.settings.test", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def tasks_run_by(log: Path) -> set[str]:
    return set(
        re.findall(r"Task (rendering\.\w+|catalog\.\w+)\[[^\]]+\] succeeded", log.read_text())
    )


def test_two_workers_on_separate_queues_generate_a_catalog_into_s3(
    worker_starter: WorkerStarter, s3_storage: dict[str, Any], settings: Settings
) -> None:
    merchant = make_merchant(slug="shop")
    for sku, color in (("A", "#E4572E"), ("B", "#2E86AB"), ("C", "#3B7A57")):
        make_product(merchant, sku=sku, title=f"Product {sku}", color=color)
    worker_starter.extra_env.update(s3_env(s3_storage))
    renderer = worker_starter.start(queues="render.local", concurrency=2)
    coordinator = worker_starter.start(queues="default,render.remote,assemble", concurrency=2)

    result = manage(
        "generate_videos", "--merchant", "shop", "--all", "--contexts", "climate=rainy",
        "--contexts", "climate=sunny", "--aspects", "16:9", "--wait", "--timeout", "240", "--json",
        env={"DATABASE_URL": worker_database_url(), **s3_env(s3_storage),
             **{k: v for k, v in worker_starter.extra_env.items() if k.startswith("SCENECART_TEST")},
             "SCENECART_TEST_SMALL_VIDEOS": "1",
             "SCENECART_TEST_CACHE_PREFIX": settings.CACHES["default"]["KEY_PREFIX"]},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["videos"], summary["videos_ready"], summary["videos_failed"]) == (6, 6, 0)
    # 3 heroes, 3 offers, 6 scenes and one outro, each rendered once.
    assert summary["segments_unique"] == Segment.objects.count() == 13
    assert set(Segment.objects.values_list("attempts", flat=True)) == {1}

    import boto3

    bucket = boto3.resource(
        "s3",
        endpoint_url=s3_storage["endpoint_url"],
        region_name=s3_storage["region_name"],
        aws_access_key_id=s3_storage["access_key"],
        aws_secret_access_key=s3_storage["secret_key"],
    ).Bucket(s3_storage["bucket_name"])
    stored = {obj.key for obj in bucket.objects.all()}
    assert {s.file.name for s in Segment.objects.all()} <= stored
    assert {v.file.name for v in Video.objects.all()} <= stored

    assert tasks_run_by(renderer.log_path) == {"rendering.render_segment"}  # type: ignore[attr-defined]
    coordinated = tasks_run_by(coordinator.log_path)  # type: ignore[attr-defined]
    assert "rendering.assemble_video" in coordinated
    assert "rendering.render_segment" not in coordinated


# --- Redis restarted in the middle of a bulk job ------------------------------------------------


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """A Redis server of this test's own (no persistence, as the machine's), which the test
    may kill and start again on the same port."""
    binary = shutil.which("redis-server")
    if binary is None:
        if IN_CI:
            pytest.fail("CI=true but redis-server is not installed.")
        pytest.skip("redis-server is not installed")
    port = free_port()
    processes: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(tmp_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        processes.append(process)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        pytest.fail("redis-server did not start")

    def restart() -> None:
        processes[-1].send_signal(signal.SIGKILL)
        processes[-1].wait()
        time.sleep(1.0)  # the worker notices the broker is gone
        start()

    start()
    try:
        yield f"redis://127.0.0.1:{port}/0", restart
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def test_a_bulk_job_finishes_after_redis_restarts_in_the_middle(
    worker_starter: WorkerStarter, private_redis: tuple[str, Any], settings: Settings
) -> None:
    broker, restart = private_redis
    merchant = make_merchant(slug="shop")
    for index in range(4):
        make_product(
            merchant, sku=f"P{index}", color=("#E4572E", "#2E86AB", "#3B7A57", "#7B2CBF")[index]
        )
    env = {
        "CELERY_BROKER_URL": broker,
        "DATABASE_URL": worker_database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "SCENECART_TEST_SMALL_VIDEOS": "1",
        "SCENECART_TEST_CACHE_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
        "SCENECART_RENDER_STALE_AFTER": "3",
    }
    worker_starter.extra_env.update(env)
    worker_starter.start(concurrency=1)

    queued = manage(
        "generate_videos", "--merchant", "shop", "--all", "--contexts", "climate=rainy",
        "--contexts", "climate=snowy", "--contexts", "aesthetic=cozy", "--aspects", "16:9", "--json",
        env=env,
    )  # fmt: skip
    assert queued.returncode == 0, queued.stderr[-3000:]
    job = json.loads(queued.stdout.strip().splitlines()[-1])["job"]
    total = Segment.objects.count()

    def ready_segments() -> int:
        return Segment.objects.filter(status=Segment.Status.READY).count()

    deadline = time.monotonic() + 120
    while ready_segments() < 2:
        assert time.monotonic() < deadline, "the worker rendered nothing"
        time.sleep(0.05)
    restart()  # every message still queued is gone with the old server
    lost = total - ready_segments()
    assert lost > 0, "the job finished before the restart; the test proves nothing"

    # Beat's sweep, once the lost work is older than the stale period.
    deadline = time.monotonic() + 240
    while True:
        time.sleep(3.5)
        swept = manage(
            "shell",
            "-c",
            "from rendering.sweeps import stale_work_requeue; print(stale_work_requeue())",
            env=env,
        )
        assert swept.returncode == 0, swept.stderr[-3000:]
        if not Video.objects.exclude(status=Video.Status.READY).exists():
            break
        assert time.monotonic() < deadline, "the job did not finish after the restart"
    waited = manage(
        "generate_videos", "--merchant", "shop", "--retry", str(job), "--wait", "--json", env=env
    )
    summary = json.loads(waited.stdout.strip().splitlines()[-1])
    assert summary["videos_ready"] == summary["videos"] == 12 and summary["videos_failed"] == 0
    keys = list(Segment.objects.values_list("key", flat=True))
    assert len(keys) == len(set(keys)) == total

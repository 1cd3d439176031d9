"""Shared fixtures.

The suite runs on whatever DATABASE_URL / REDIS_URL say: nothing set means SQLite and the
filesystem broker (no services). ``scripts/test`` runs it once that way and, where PostgreSQL
and Redis are reachable (always under CI=true, where their absence is a failure), once more
against them.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings

from scenecart.settings import test as test_settings
from tests.support import render_cache
from tests.support.workers import IN_CI, WorkerStarter, free_port, purge_broker, stop

# Fixtures of fake remote services, shared by the test folders.
pytest_plugins = ["tests.support.open_meteo", "tests.support.protocols.fixtures"]


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def pytest_sessionstart(session: pytest.Session) -> None:
    """Under CI=true a configured service that is down fails the run instead of skipping."""
    for variable, port in (("DATABASE_URL", 5432), ("REDIS_URL", 6379)):
        url = os.environ.get(variable, "")
        if url and not url.startswith("sqlite") and not _reachable(url, port):
            pytest.exit(f"{variable}={url} is set but nothing answers there.", returncode=3)


def pytest_sessionfinish(session: pytest.Session) -> None:
    # The run folder made by scenecart.settings.test (broker files, the SQLite test database).
    run_dir = Path(str(test_settings.TEST_RUN_DIR))
    if run_dir.name.startswith("scenecart-test-"):
        shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture(autouse=True)
def media_root(settings: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """Each test writes its files into its own MEDIA_ROOT."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = str(root)  # type: ignore[attr-defined]
    return root


@pytest.fixture(autouse=True)
def cache_isolation(settings: pytest.FixtureRequest) -> str:
    """Each test reads and writes its own keys in the shared cache (files, or Redis in the
    services pass). Never ``cache.clear()``: in the Redis pass the cache shares its server
    with the Celery broker. Returns the key prefix, which worker processes are given too."""
    prefix = f"t{uuid.uuid4().hex[:12]}"
    settings.CACHES = {  # type: ignore[attr-defined]
        "default": {**django_settings.CACHES["default"], "KEY_PREFIX": prefix}
    }
    return prefix


@pytest.fixture
def small_videos(settings: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Test-sized house formats and short segments, so renders take a fraction of a second."""
    settings.SCENECART_PROFILES = test_settings.SMALL_PROFILES  # type: ignore[attr-defined]
    settings.SCENECART_SEGMENT_SECONDS = test_settings.SMALL_SEGMENT_SECONDS  # type: ignore[attr-defined]
    # In this process, the same segment is rendered once per run (tests/support/render_cache).
    local = settings.SCENECART_BACKENDS["local"]  # type: ignore[attr-defined]
    settings.SCENECART_BACKENDS = {  # type: ignore[attr-defined]
        **settings.SCENECART_BACKENDS,  # type: ignore[attr-defined]
        "local": {**local, "BACKEND": "tests.support.render_cache.CachedLocalBackend"},
    }
    monkeypatch.setattr("rendering.services.bed_for", render_cache.cached_bed_for)


@pytest.fixture
def worker_starter(
    transactional_db: None, settings: pytest.FixtureRequest, small_videos: None, tmp_path: Path
) -> Iterator[WorkerStarter]:
    """Start workers yourself (``worker_starter.start()``), e.g. to kill one and start another."""
    purge_broker()
    starter = WorkerStarter(settings=settings, tmp_path=tmp_path)
    try:
        yield starter
    finally:
        starter.stop_all()


@pytest.fixture
def celery_worker(worker_starter: WorkerStarter) -> subprocess.Popen[bytes]:
    """A real Celery worker process on the configured broker and the test database.

    It gets the test's settings through the environment: the test database, MEDIA_ROOT and
    the test-sized profiles (SCENECART_TEST_SMALL_VIDEOS).
    """
    return worker_starter.start()


@pytest.fixture
def redis_url() -> str:
    """The Redis server the suite is configured for (REDIS_URL); skipped without one, except
    under CI=true where a missing Redis fails."""
    url = os.environ.get("REDIS_URL") or django_settings.REDIS_URL
    if not url:
        if IN_CI:
            pytest.fail(
                "CI=true but REDIS_URL is not set: scripts/test sets it for the services pass."
            )
        pytest.skip("REDIS_URL is not set (the services pass of scripts/test sets it)")
    return url


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real S3-compatible server over HTTP (moto in server mode), for the whole session.

    Yields its endpoint URL. Moto keeps state in memory, so it dies with the session.
    """
    import requests

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("s3") / "moto.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            log.close()
            pytest.fail(f"moto server did not start:\n{log_path.read_text()[-3000:]}")
        try:
            requests.get(f"{endpoint}/moto-api/", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    try:
        yield endpoint
    finally:
        stop(process, timeout=10)
        log.close()


S3_REGION = "us-east-1"
S3_KEY = "testing"


@pytest.fixture
def s3_storage(s3_server: str, settings: pytest.FixtureRequest) -> dict[str, object]:
    """``default_storage`` on a fresh bucket of the moto server, configured like
    ``SCENECART_STORAGE=s3`` in scenecart/settings/base.py. Returns the storage OPTIONS.

    Assigning ``settings.STORAGES`` fires ``setting_changed``, whose handler in
    django.test.signals replaces ``storages._storages`` and resets ``default_storage``.
    """
    import boto3

    bucket = f"scenecart-test-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3",
        endpoint_url=s3_server,
        region_name=S3_REGION,
        aws_access_key_id=S3_KEY,
        aws_secret_access_key=S3_KEY,
    ).create_bucket(Bucket=bucket)
    options: dict[str, object] = {
        "bucket_name": bucket,
        "access_key": S3_KEY,
        "secret_key": S3_KEY,
        "region_name": S3_REGION,
        "endpoint_url": s3_server,
        "location": "",
        "default_acl": None,
        "querystring_auth": True,
        "querystring_expire": 300,
        "signature_version": "s3v4",
        "file_overwrite": False,
    }
    settings.STORAGES = {  # type: ignore[attr-defined]
        **settings.STORAGES,  # type: ignore[attr-defined]
        "default": {"BACKEND": "scenecart.storage.MediaStorage", "OPTIONS": options},
    }
    return options

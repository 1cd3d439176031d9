"""Settings come from the environment (scenecart/settings/{base,dev,production,test}.py).

Each case loads a settings module in a fresh Python process with a controlled environment:
the variables that pick services are removed first, then the case sets what it needs. No
database, broker or bucket is contacted; only the resulting settings are inspected.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

CLEARED = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "SECRET_KEY",
    "DEBUG",
    "SCENECART_STORAGE",
)

PROBE = """
import django, json
django.setup()
from django.conf import settings
db = settings.DATABASES["default"]
storage = settings.STORAGES["default"]
print(json.dumps({
    "engine": db["ENGINE"],
    "name": str(db["NAME"]),
    "host": db.get("HOST", ""),
    "port": str(db.get("PORT", "")),
    "storage_backend": storage["BACKEND"],
    "storage_options": storage.get("OPTIONS", {}),
    "broker": settings.CELERY_BROKER_URL,
    "debug": settings.DEBUG,
    "secret_key_set": bool(settings.SECRET_KEY),
    "session_cookie_secure": getattr(settings, "SESSION_COOKIE_SECURE", False),
    "backends": {alias: {"BACKEND": c["BACKEND"], "OPTIONS": c.get("OPTIONS", {})}
                 for alias, c in settings.SCENECART_BACKENDS.items()},
    "fallbacks": settings.SCENECART_FALLBACKS,
}))
"""


def load(module: str, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in CLEARED and not key.startswith("AWS_")
    }
    env.update(variables, DJANGO_SETTINGS_MODULE=module)
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def settings_of(module: str, **variables: str) -> dict[str, Any]:
    result = load(module, **variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def error_of(module: str, **variables: str) -> str:
    """The last line of the traceback of a settings module that refuses to load."""
    result = load(module, **variables)
    assert result.returncode != 0, f"{module} loaded but should have failed:\n{result.stdout}"
    return result.stderr.strip().splitlines()[-1]


def test_dev_settings_need_no_services() -> None:
    found = settings_of("scenecart.settings.dev")
    assert found["engine"] == "django.db.backends.sqlite3"
    assert found["name"] == str(ROOT / "db.sqlite3")
    assert found["storage_backend"] == "django.core.files.storage.FileSystemStorage"
    assert found["broker"].startswith("filesystem://")
    assert found["debug"] is True
    assert found["secret_key_set"] is True


def test_production_refuses_to_start_without_a_secret_key() -> None:
    error = error_of("scenecart.settings.production")
    assert error.startswith("django.core.exceptions.ImproperlyConfigured:")
    assert "SECRET_KEY is not set" in error


def test_production_with_a_secret_key_is_locked_down() -> None:
    found = settings_of("scenecart.settings.production", SECRET_KEY="s3cret-for-the-test")
    assert found["debug"] is False
    assert found["session_cookie_secure"] is True


def test_database_url_selects_postgresql() -> None:
    found = settings_of(
        "scenecart.settings.production",
        SECRET_KEY="s3cret-for-the-test",
        DATABASE_URL="postgres://u:p@db.example:5432/shop",
    )
    assert found["engine"] == "django.db.backends.postgresql"
    assert (found["name"], found["host"], found["port"]) == ("shop", "db.example", "5432")


def test_redis_url_becomes_the_celery_broker() -> None:
    found = settings_of("scenecart.settings.dev", REDIS_URL="redis://127.0.0.1:6379/3")
    assert found["broker"] == "redis://127.0.0.1:6379/3"


def test_s3_storage_uses_the_bucket_and_endpoint_from_the_environment() -> None:
    found = settings_of(
        "scenecart.settings.dev",
        SCENECART_STORAGE="s3",
        AWS_STORAGE_BUCKET_NAME="b",
        AWS_S3_ENDPOINT_URL="http://127.0.0.1:9000",
    )
    assert found["storage_backend"] == "scenecart.storage.MediaStorage"
    assert found["storage_options"]["bucket_name"] == "b"
    assert found["storage_options"]["endpoint_url"] == "http://127.0.0.1:9000"


def check_of(**variables: str) -> subprocess.CompletedProcess[str]:
    """``manage.py check`` (the system checks every command runs) under these variables."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in CLEARED and not key.startswith("AWS_")
    }
    env.update(variables, DJANGO_SETTINGS_MODULE="scenecart.settings.dev")
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_a_clean_environment_passes_the_checks() -> None:
    result = check_of()
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_an_unknown_storage_is_refused_by_name() -> None:
    result = check_of(SCENECART_STORAGE="ftp")
    assert result.returncode != 0
    assert "scenecart.E001" in result.stderr
    assert "SCENECART_STORAGE='ftp' is not supported" in result.stderr


def test_s3_without_a_bucket_is_refused_by_name() -> None:
    result = check_of(SCENECART_STORAGE="s3")
    assert result.returncode != 0
    assert "AWS_STORAGE_BUCKET_NAME" in result.stderr


def test_a_providers_key_in_the_environment_configures_its_backend() -> None:
    found = settings_of(
        "scenecart.settings.dev",
        KLING_ACCESS_KEY="ak-1",
        KLING_SECRET_KEY="sk-1",
        SCENECART_KLING_MODEL="kling-v2-5-turbo",
        SCENECART_FALLBACKS='{"kling": ["local"]}',
    )
    kling = found["backends"]["kling"]
    assert kling["BACKEND"] == "providers.kling.KlingBackend"
    assert kling["OPTIONS"] == {"api_key": "ak-1:sk-1", "model": "kling-v2-5-turbo"}
    assert found["fallbacks"] == {"kling": ["local"]}
    # Half a key configures nothing.
    assert "kling" not in settings_of("scenecart.settings.dev", KLING_ACCESS_KEY="ak-1")["backends"]


def test_a_bad_price_is_refused_by_name() -> None:
    for price in ('"cheap"', '"-0.10"'):
        result = check_of(SCENECART_PRICES=f'{{"kling": {price}}}')
        assert result.returncode != 0
        assert f"SCENECART_PRICES['kling'] is {price.strip(chr(34))!r}" in result.stderr


def test_a_worker_with_a_bad_setting_stops_before_taking_work() -> None:
    env = {key: value for key, value in os.environ.items() if key not in CLEARED}
    env.update(SCENECART_VOICE_PROVIDER="sonos", DJANGO_SETTINGS_MODULE="scenecart.settings.dev")
    result = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "scenecart", "worker", "--pool", "solo", "-l", "ERROR"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "SCENECART_VOICE_PROVIDER='sonos' is not supported" in result.stderr + result.stdout


def test_a_worker_started_by_hand_runs_on_the_dev_settings_and_takes_every_queue(
    tmp_path: Path,
) -> None:
    """`celery -A scenecart worker`, as a newcomer types it: no settings module, no -Q."""
    env = {
        k: v for k, v in os.environ.items() if k not in CLEARED and k != "DJANGO_SETTINGS_MODULE"
    }
    env["SCENECART_VAR_DIR"] = str(tmp_path)
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "scenecart", "worker", "--pool", "solo", "-l", "INFO"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while "ready." not in log.read_text() and worker.poll() is None:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        finally:
            # Seen ready: no need to wait for a warm shutdown.
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)
    banner = log.read_text()
    assert "ready." in banner, banner
    for queue in ("default", "render.local", "render.remote", "assemble"):
        # Its own exchange and key: a message for one queue is not copied into the others.
        assert re.search(
            rf"\.> {re.escape(queue)} +exchange={re.escape(queue)}\(direct\) key={re.escape(queue)}",
            banner,
        ), banner

"""Benchmark of the storefront's video lookup against a trivial Django view, side by side in one run.

    .venv/bin/python bench/storefront_api.py [--seconds 10] [--connections 32] [--rounds 3]
        [--workers 4] [--json]

One gunicorn server (production settings, N sync workers, no access log) on a free loopback
port serves both URLs; `wrk` loads them in turns, trivial view then lookup, for each round, so
machine noise hits both. The lookup asks for a variant that is already READY:

    GET /api/v1/videos/bench/BENCH-01?aspect=16:9&climate=rainy    against    GET /healthz

Targets at 32 connections: the lookup reaches >= 0.7x the trivial view's requests/second and
its p99 is <= 1.3x the trivial view's p99.

Everything lives in a temporary folder (SQLite file, media, cache, broker) that is removed at
the end. A DATABASE_URL or REDIS_URL in the environment is used as it is (PostgreSQL, and the
shared cache in Redis); the bench's merchant `bench` is replaced there.
"""

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MERCHANT, SKU, CONTEXT, ASPECT = "bench", "BENCH-01", "climate=rainy", "16:9"
LOOKUP_PATH = f"/api/v1/videos/{MERCHANT}/{SKU}?aspect={ASPECT}&{CONTEXT}"
TRIVIAL_PATH = "/healthz"
RPS_TARGET, P99_TARGET = 0.7, 1.3
WRK = "/usr/bin/wrk"


@dataclass(frozen=True)
class Run:
    """What one wrk run measured; latencies in milliseconds."""

    rps: float
    p50: float
    p99: float
    requests: int
    non_2xx: int
    socket_errors: int


def environment(work: Path) -> tuple[dict[str, str], list[str]]:
    """The server's and the seeding's environment, and what it runs on, for the report."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "scenecart.settings.production",
        "SECRET_KEY": "bench",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_HSTS_SECONDS": "0",
        "MEDIA_ROOT": str(work / "media"),
        "SCENECART_VAR_DIR": str(work / "var"),
        "LOG_LEVEL": "WARNING",
        # The per-address limiter stays on (its cost is part of a lookup), at a rate the one
        # load generator never reaches.
        "SCENECART_LOOKUP_RATE": os.environ.get("BENCH_LOOKUP_RATE", "1000000000/min"),
        # Tasks the seeding queues (cutout, renders) stay in the temporary folder, even when
        # REDIS_URL would make Redis the broker.
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "filesystem://localhost//"),
    }
    notes = [
        f"load average at the start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
        "(other work on the machine narrows the gap between A and B)"
    ]
    if os.environ.get("DATABASE_URL"):
        notes.append("database: DATABASE_URL from the environment")
    else:
        env["DATABASE_URL"] = f"sqlite:///{work / 'bench.sqlite3'}"
        notes.append("database: a fresh SQLite file")
    if os.environ.get("CACHE_URL") or os.environ.get("REDIS_URL"):
        notes.append("cache: Redis (CACHE_URL/REDIS_URL from the environment)")
    else:
        notes.append("cache: files under the temporary SCENECART_VAR_DIR")
    return env, notes


def seed() -> None:
    """Run as a subprocess (`--seed`): a merchant, a product with a photo, its bucket policy and
    a READY 16:9 rainy video rendered in-process at test size."""
    import django

    django.setup()
    from django.test import override_settings

    from catalog.demo import DEMO_PRODUCTS, product_photo
    from catalog.models import Merchant
    from catalog.selectors import merchant_forget
    from catalog.services import merchant_create, product_create, product_image_add
    from personalization.context import ShopperContext
    from personalization.services import bucket_policy_update
    from rendering.models import Video
    from rendering.services import segment_render, video_assemble, video_request

    # A database from the environment may hold the last run's rows, whose files are gone, and
    # a Redis cache from the environment that run's merchant.
    Video.objects.filter(product__merchant__slug=MERCHANT).delete()
    Merchant.objects.filter(slug=MERCHANT).delete()
    merchant_forget(slug=MERCHANT)
    merchant = merchant_create(name="Bench Shop", slug=MERCHANT)
    product = product_create(merchant=merchant, sku=SKU, title="Bench Jacket", price="99.00")
    product_image_add(
        product=product, filename="photo.png", content=product_photo(DEMO_PRODUCTS[0].draw)
    )
    bucket_policy_update(
        merchant=merchant,
        dimensions=["climate", "aesthetic"],
        approved_buckets=[CONTEXT],
        allow_public_hints=True,
    )
    # Test-sized (what the lookup serves does not depend on it), so seeding takes seconds.
    # Not imported from scenecart.settings.test: importing it makes a folder in /tmp.
    small = {ASPECT: {"width": 320, "height": 180, "fps": 15}}
    short = dict.fromkeys(("hero", "scene", "offer", "outro"), 0.5)
    with override_settings(SCENECART_PROFILES=small, SCENECART_SEGMENT_SECONDS=short):
        request = video_request(
            product=product, context=ShopperContext.parse(CONTEXT), aspect=ASPECT
        )
        for segment in request.segments:
            segment_render(segment=segment)
        video = video_assemble(video=request.video)
    if video.status != Video.Status.READY:
        raise SystemExit(f"Seeding failed: the video is {video.status}: {video.error}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (repeated ones joined, as HTTP allows) and body of one GET."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            status, message, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        status, message, body = exc.code, exc.headers, exc.read()
    return status, {key: ", ".join(message.get_all(key) or []) for key in message}, body


def wait_until_up(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited ({server.returncode}):\n{log.read_text()[-3000:]}")
        try:
            status, _, body = fetch(url)
        except OSError:
            time.sleep(0.2)
            continue
        if status == 200:
            return
        raise SystemExit(
            f"{url} answered {status}; does the trivial view exist yet?\n{body[:500]!r}"
        )
    raise SystemExit(f"gunicorn did not answer {url} within 60 s:\n{log.read_text()[-3000:]}")


def wrk(url: str, *, seconds: int, connections: int) -> Run:
    """One wrk run; its summary parsed (latency distribution in us, ms or s)."""
    args = [WRK, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    percentiles = {
        int(m[1]): float(m[2]) * scale[m[3]]
        for m in re.finditer(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
    }
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    requests = re.search(r"(\d+) requests in", out)
    if rps is None or requests is None or not {50, 99} <= percentiles.keys():
        raise SystemExit(f"Could not read wrk's output:\n{out}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return Run(
        rps=float(rps[1]),
        p50=percentiles[50],
        p99=percentiles[99],
        requests=int(requests[1]),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


def median_run(runs: list[Run]) -> dict[str, float]:
    return {key: statistics.median(getattr(r, key) for r in runs) for key in ("rps", "p50", "p99")}


def ensure_wrk() -> None:
    if Path(WRK).exists():
        return
    if os.geteuid() != 0:
        raise SystemExit("wrk is not installed: run `sudo apt-get install -y wrk`, then again.")
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--seed", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed:
        seed()
        return
    ensure_wrk()

    with tempfile.TemporaryDirectory(prefix="scenecart-bench-") as tmp:
        work = Path(tmp)
        env, notes = environment(work)
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        started = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--seed"], cwd=ROOT, env=env, check=True)
        notes.append(
            f"seeded a READY {ASPECT} {CONTEXT} video in {time.perf_counter() - started:.1f} s"
        )

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = work / "gunicorn.log"
        with log.open("wb") as log_file:
            server = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "scenecart.wsgi", "--workers",
                 str(args.workers), "--bind", f"127.0.0.1:{port}"],
                cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            wait_until_up(base + TRIVIAL_PATH, server, log)
            status, headers, body = fetch(base + LOOKUP_PATH)
            sample = json.loads(body) if status == 200 else {}
            if sample.get("status") != "ready":
                raise SystemExit(
                    f"The lookup must answer 200 with status ready before it is measured; it "
                    f"answered {status}: {body[:500]!r}\n{log.read_text()[-3000:]}"
                )
            # Warm-up: every worker imports, connects and fills its caches.
            for path in (TRIVIAL_PATH, LOOKUP_PATH):
                wrk(base + path, seconds=2, connections=args.connections)

            runs: dict[str, list[Run]] = {"trivial": [], "lookup": []}
            for _ in range(args.rounds):
                for name, path in (("trivial", TRIVIAL_PATH), ("lookup", LOOKUP_PATH)):
                    run = wrk(base + path, seconds=args.seconds, connections=args.connections)
                    if run.non_2xx:
                        raise SystemExit(f"{path}: {run.non_2xx} non-2xx answers under load.")
                    runs[name].append(run)
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

    trivial, lookup = median_run(runs["trivial"]), median_run(runs["lookup"])
    rps_ratio, p99_ratio = lookup["rps"] / trivial["rps"], lookup["p99"] / trivial["p99"]
    passed = {"rps": rps_ratio >= RPS_TARGET, "p99": p99_ratio <= P99_TARGET}
    shown = {name: headers.get(name, "(absent)") for name in ("Cache-Control", "Vary")}
    if args.json:
        print(json.dumps({
            "settings": vars(args) | {"notes": notes},
            "rounds": {name: [asdict(r) for r in rs] for name, rs in runs.items()},
            "median": {"trivial": trivial, "lookup": lookup},
            "ratio": {"rps": rps_ratio, "p99": p99_ratio},
            "targets": {"rps": RPS_TARGET, "p99": P99_TARGET},
            "pass": passed,
            "lookup_headers": shown,
            "lookup_body": sample,
        }, indent=2))  # fmt: skip
        return

    print(f"Storefront lookup vs trivial view: gunicorn {args.workers} workers, wrk -t2 "
          f"-c{args.connections} -d{args.seconds}s, {args.rounds} round(s) A then B")  # fmt: skip
    for note in notes:
        print(f"  {note}")
    print(f"  A = GET {TRIVIAL_PATH}    B = GET {LOOKUP_PATH}")
    print(f"\n  {'':8} {'A req/s':>8} {'A p50':>8} {'A p99':>8}  {'B req/s':>8} {'B p50':>8} "
          f"{'B p99':>8}  {'B/A req/s':>9} {'B/A p99':>8}  {'sock.err':>8}")  # fmt: skip
    rows = [(f"round {n + 1}", asdict(a), asdict(b), a.socket_errors + b.socket_errors)
            for n, (a, b) in enumerate(zip(runs["trivial"], runs["lookup"], strict=True))]  # fmt: skip
    rows.append(("median", trivial, lookup, sum(e for *_, e in rows)))
    for label, a, b, errors in rows:
        print(f"  {label:8} {a['rps']:8.0f} {a['p50']:6.1f}ms {a['p99']:6.1f}ms  "
              f"{b['rps']:8.0f} {b['p50']:6.1f}ms {b['p99']:6.1f}ms  "
              f"{b['rps'] / a['rps']:8.2f}x {b['p99'] / a['p99']:7.2f}x  {errors:8}")  # fmt: skip
    verdict = {True: "PASS", False: "FAIL"}
    print(
        f"\n  lookup/trivial req/s: {rps_ratio:.2f}x (target >= {RPS_TARGET}x)  {verdict[passed['rps']]}"
    )
    print(
        f"  lookup/trivial p99:   {p99_ratio:.2f}x (target <= {P99_TARGET}x)  {verdict[passed['p99']]}"
    )
    print("\n  Sample lookup response:")
    for name, value in shown.items():
        print(f"    {name}: {value}")
    print(f"    {json.dumps(sample)}")


if __name__ == "__main__":
    main()

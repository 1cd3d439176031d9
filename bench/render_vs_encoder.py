"""Benchmark: `render_segment` against ffmpeg encoding a test pattern of the same size, length
and codec settings, side by side in one run.

    .venv/bin/python bench/render_vs_encoder.py [--seconds 4] [--aspect 16:9] [--rounds 3]

Each round renders a *new* segment (a fresh database and media folder, so nothing comes from
the cache) with the real command in its own process, then encodes ffmpeg's `testsrc2` with the
house-format encoder settings. The ratio is render time ÷ encoder time (1.0 = as fast as the
encoder alone).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--aspect", default="16:9")
    parser.add_argument("--context", default="climate=rainy,aesthetic=minimalist")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scenecart.settings.dev")
    import django

    django.setup()

    from rendering.backends import backend_for
    from rendering.profiles import profile_for
    from videokit.media import encoder_args, ffmpeg_exe, probe

    profile = profile_for(args.aspect)
    backend = backend_for("local")
    options = backend.option_fingerprint()
    encoder = encoder_args(profile, preset=options["preset"], crf=options["crf"])

    with tempfile.TemporaryDirectory(prefix="scenecart-bench-") as workdir:
        work = Path(workdir)
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{work / 'bench.sqlite3'}",
            "MEDIA_ROOT": str(work / "media"),
            "SCENECART_VAR_DIR": str(work / "var"),
            "LOG_LEVEL": "WARNING",
        }
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True)
        subprocess.run([*manage, "seed_demo"], env=env, check=True, capture_output=True)

        render_times, encode_times = [], []
        skus = ["RAIN-JKT-01", "TRAIL-SNK-02", "PACK-24L-03", "MUG-ENM-04", "SUN-POL-05",
                "BEANIE-06", "BOTTLE-07", "BLANKET-08"]  # fmt: skip
        for round_ in range(args.rounds):
            out = work / f"render{round_}.mp4"
            started = time.perf_counter()
            subprocess.run(
                [*manage, "render_segment", "--merchant", "demo", "--sku", skus[round_ % len(skus)],
                 "--context", args.context, "--aspect", args.aspect,
                 "--seconds", str(args.seconds), "--out", str(out)],
                env=env, check=True, capture_output=True,
            )  # fmt: skip
            render_times.append(time.perf_counter() - started)
            found = probe(out)
            assert abs(found.duration - args.seconds) <= 0.1, found

            pattern = work / f"testsrc{round_}.mp4"
            source = f"testsrc2=size={profile.width}x{profile.height}:rate={profile.fps}:duration={args.seconds}"
            started = time.perf_counter()
            subprocess.run(
                [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                 "-i", source, *encoder, str(pattern)],
                check=True,
            )  # fmt: skip
            encode_times.append(time.perf_counter() - started)

    render = statistics.median(render_times)
    encode = statistics.median(encode_times)
    print(f"segment: {profile.width}x{profile.height} {profile.fps} fps, {args.seconds:g} s, "
          f"context {args.context!r}, x264 preset {options['preset']} crf {options['crf']}, "
          f"{os.cpu_count()} cores, {args.rounds} rounds (median)")  # fmt: skip
    print(
        f"render_segment (whole command, new segment): {render:6.2f} s   rounds: "
        + ", ".join(f"{t:.2f}" for t in render_times)
    )
    print(
        f"ffmpeg testsrc2 encode, same settings:       {encode:6.2f} s   rounds: "
        + ", ".join(f"{t:.2f}" for t in encode_times)
    )
    print(f"ratio render / encoder: {render / encode:.2f}x")


if __name__ == "__main__":
    main()

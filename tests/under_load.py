"""Run tests several times in a row while busy loops compete for every CPU (``make test-under-load``).

A checker that passes a wrong solution only when the machine is slow, or a harness test that fails
then, shows up here. The busy loops run in their own sessions (so a Ctrl-C reaches this runner, not
them); they are killed when the runner ends, however it ends, and each stops by itself after
``--max-seconds`` in case the runner itself is killed outright.

    python tests/under_load.py [--loops 8] [--runs 3] [--max-seconds 1200] [PYTEST_ARGS ...]
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time

BUSY_LOOP = "import sys, time\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end:\n    pass\n"
DEFAULT_TESTS = ["tests/exercises", "tests/test_exercises.py", "tests/harness"]


def start_busy_loops(count: int, max_seconds: float) -> list[subprocess.Popen]:
    """``count`` processes that each spin on a CPU for at most ``max_seconds``."""
    return [
        subprocess.Popen([sys.executable, "-c", BUSY_LOOP, str(max_seconds)], start_new_session=True)
        for _ in range(count)
    ]


def stop(processes: list[subprocess.Popen]) -> None:
    """Kill ``processes`` and wait for them."""
    for process in processes:
        if process.poll() is None:
            process.kill()
    for process in processes:
        process.wait()


def main(argv: list[str] | None = None) -> int:
    """Start the loops, run pytest ``--runs`` times (stopping at the first failure), stop the loops."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loops", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-seconds", type=float, default=1200.0)
    args, pytest_args = parser.parse_known_args(argv)
    pytest_args = pytest_args or DEFAULT_TESTS
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops the loops
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(129))
    loops = start_busy_loops(args.loops, args.max_seconds)
    tests: list[subprocess.Popen] = []
    started = time.monotonic()
    try:
        print(f"{args.loops} busy loops running (at most {args.max_seconds:g} s); {args.runs} runs of {pytest_args}")
        for run in range(1, args.runs + 1):
            print(f"== run {run} of {args.runs} under load", flush=True)
            tests.append(
                subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *pytest_args])
            )
            code = tests[-1].wait()
            if code != 0:
                print(f"run {run} of {args.runs} failed under load (exit status {code})")
                return code
        print(f"all {args.runs} runs passed under {args.loops} busy loops in {time.monotonic() - started:.0f} s")
        return 0
    except KeyboardInterrupt:
        print("interrupted: stopping the busy loops")
        return 130
    finally:
        stop(loops)
        for process in tests:  # a run still going when the runner is stopped: end it, gently first
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


if __name__ == "__main__":
    sys.exit(main())

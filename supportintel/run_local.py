"""`make run`: the web server, a real Celery worker (with beat) and, with LLM=fake, the fake LLM server,
started together and stopped together (Ctrl-C or SIGTERM)."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time

# How long each process may take to finish its current work after Ctrl-C before it is killed.
STOP_GRACE_SECONDS = 15


def _commands(args: argparse.Namespace) -> tuple[list[list[str]], dict[str, str]]:
    python = sys.executable
    env = dict(os.environ)
    commands = []
    if args.llm == "fake":
        commands.append([python, "manage.py", "fake_llm", "--port", str(args.fake_llm_port)])
        env.update(
            OPENAI_BASE_URL=f"http://127.0.0.1:{args.fake_llm_port}/v1",
            OPENAI_API_KEY="fake",
            LLM_MODEL="fake-classifier",
        )
    commands.append(
        [
            python,
            "-m",
            "celery",
            "-A",
            "supportintel",
            "worker",
            "-B",
            "-Q",
            "classification,default",
            "-c",
            "2",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "info",
        ]
    )
    commands.append([python, "manage.py", "runserver", f"{args.host}:{args.port}", "--noreload"])
    return commands, env


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group has already exited
        os.killpg(process.pid, signum)


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """TERM each child's process group (the worker's pool and beat included), wait, then KILL what is
    left, so nothing outlives the launcher."""
    for process in processes:
        _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        _signal_group(process, signal.SIGKILL)  # stragglers of this group, e.g. pool processes


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--llm", default="", help="'fake' to start the fake OpenAI-compatible server and use it")
    parser.add_argument("--fake-llm-port", type=int, default=8100)
    args = parser.parse_args()
    commands, env = _commands(args)
    # Each child leads its own process group: Ctrl-C reaches only this launcher, which then stops each
    # group as a whole (a worker's pool processes included) instead of signals racing each other.
    processes = [subprocess.Popen(command, env=env, start_new_session=True) for command in commands]
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
        return 1  # one of them stopped on its own: stop the others too
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(processes)


if __name__ == "__main__":
    sys.exit(main())

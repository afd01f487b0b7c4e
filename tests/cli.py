"""Run the two scripts the way a user does: as subprocesses, no shell."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from tests.support import REPO, free_port

BENCHMARK = REPO / "benchmark.py"
SHOW_RESULTS = REPO / "show_results.py"


def run_benchmark(*args, timeout=120, env=None, cwd=REPO):
    return subprocess.run([sys.executable, str(BENCHMARK), *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd, env=env)


def run_show(*args, timeout=60, env=None, cwd=REPO):
    return subprocess.run([sys.executable, str(SHOW_RESULTS), *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd, env=env)


def demo_args(db, *extra, requests=300, concurrency=4, confirm=False):
    """--demo on free ports with a throwaway database. Confirmation (a second,
    side-by-side look at endpoints that moved) is off unless asked for: most
    tests take runs one after the other for other reasons, and it would add
    seconds to each; tests/test_confirm.py tests it."""
    return ["--demo", "--requests", requests, "--concurrency", concurrency, "--db", db,
            "--port", free_port(), "--dev-port", free_port(),
            *([] if confirm or "--confirm" in map(str, extra) else ["--confirm", "off"]), *extra]


class LiveBenchmark:
    """benchmark.py running in the background, its stderr collected as it
    comes, so a test can act at a given moment ("[3/7]" printed) and then
    signal it."""

    def __init__(self, *args, env=None, cwd=REPO):
        self.proc = subprocess.Popen([sys.executable, str(BENCHMARK), *map(str, args)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env, cwd=cwd)
        self.stderr_lines: list[str] = []
        self.stdout_parts: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(pipe, sink), daemon=True)
                         for pipe, sink in ((self.proc.stderr, self.stderr_lines),
                                            (self.proc.stdout, self.stdout_parts))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(pipe, sink):
        for line in pipe:
            sink.append(line)

    @property
    def stdout(self) -> str:
        return "".join(self.stdout_parts)

    @property
    def stderr(self) -> str:
        return "".join(self.stderr_lines)

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.stderr:
            if self.proc.poll() is not None:
                self._join()
                if text in self.stderr:
                    return
                raise AssertionError(f"benchmark.py exited ({self.proc.returncode}) before "
                                     f"printing {text!r}:\n{self.stderr[-3000:]}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"{text!r} not printed within {timeout} s:\n{self.stderr[-3000:]}")
            time.sleep(0.01)

    def signal(self, sig) -> None:
        os.kill(self.proc.pid, sig)

    def finish(self, timeout: float = 60) -> int:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        self._join()
        return self.proc.returncode

    def _join(self) -> None:
        for reader in self._readers:
            reader.join(5)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if reader is not None and not pipe.closed and not any(r.is_alive() for r in self._readers):
                pipe.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._join()

"""Runs last (by name): no process started by this test suite may still be running."""
import os
import unittest
from pathlib import Path

from tests.support import wait_until


def tagged_processes(tag: str = "HBF_BENCH_TEST_TAG") -> list[str]:
    """Processes started by this test module (or, with HBF_BENCH_SUITE_TAG, by the whole suite)."""
    marker = f"{tag}={os.environ[tag]}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(f"pid {proc.name}: {cmdline.strip()}")
        except OSError:  # gone already, or a zombie
            continue
    return found


@unittest.skipUnless(Path("/proc/self/environ").exists(), "needs Linux /proc")
class NoProcessLeftBehind(unittest.TestCase):
    def test_every_started_process_is_gone(self):
        # A process stopped at the very end of the previous test may still be exiting.
        wait_until(lambda: not tagged_processes("HBF_BENCH_SUITE_TAG"), timeout=10,
                   message="processes started by the tests are still running")
        self.assertEqual(tagged_processes("HBF_BENCH_SUITE_TAG"), [])


if __name__ == "__main__":
    unittest.main()

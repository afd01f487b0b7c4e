"""The kept-binary store (lib/builds/binaries.py) on real files: identities, what is
linked and what copied, a changed copy, the stand-in's launcher, pruning."""
import os
import subprocess
import sys
import unittest
from pathlib import Path

from lib.builds import binaries
from tests.support import REPO, TempDirTestCase, free_port, http_request, wait_until

STANDIN = REPO / "lib" / "standin.py"


def answers(port: int) -> bool:
    try:
        return http_request(port, "GET", "/health", timeout=1)[0] == 200
    except OSError:
        return False


class Store(TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.dir = self.tmp
        self.store = self.dir / "binaries"

    def binary(self, name: str, text: str, mode: int) -> Path:
        path = self.dir / name
        path.write_text(text)
        path.chmod(mode)
        return path

    def test_a_read_only_binary_is_linked_a_writable_one_copied(self):
        built = self.binary("bazel-out", "#!/bin/sh\necho built\n", 0o555)  # as bazel leaves outputs
        mine = self.binary("my-hbf", "#!/bin/sh\necho mine\n", 0o755)
        kept_built = binaries.keep(binaries.identify([str(built)], [], None), self.store)
        kept_mine = binaries.keep(binaries.identify([str(mine)], [], None), self.store)
        self.assertTrue(os.path.samefile(kept_built, built))
        self.assertFalse(os.path.samefile(kept_mine, mine))
        mine.write_text("#!/bin/sh\necho overwritten in place\n")  # cp over it: the kept copy stands
        self.assertEqual(binaries.verified(self.store, kept_mine.name), kept_mine)

    def test_a_kept_copy_changed_in_place_is_refused_then_kept_afresh(self):
        source = self.binary("hbf", "#!/bin/sh\necho one\n", 0o755)
        identity = binaries.identify([str(source)], [], None)
        kept = binaries.keep(identity, self.store)
        kept.write_text("#!/bin/sh\necho tampered\n")
        with self.assertRaisesRegex(binaries.StoreError, "was changed after it was kept"):
            binaries.verified(self.store, identity.sha256)
        kept = binaries.keep(identity, self.store)
        self.assertEqual(binaries.file_sha256(kept), identity.sha256)
        kept.write_text("tampered again\n")
        self.assertEqual(binaries.file_sha256(binaries.keep(identity, self.store)), identity.sha256)

    def test_the_stand_in_launcher_runs_with_its_flags_after_the_tool_s(self):
        identity = binaries.identify([sys.executable, "-S", str(STANDIN)], ["--log-level", "debug"], STANDIN)
        kept = binaries.keep(identity, self.store)
        self.assertEqual(binaries.file_sha256(kept), identity.sha256)  # the name is the content's hash
        self.assertEqual(binaries.baked_args(kept), ["--log-level", "debug"])
        self.assertNotEqual(identity.sha256, binaries.identify([sys.executable, "-S", str(STANDIN)], [],
                                                               STANDIN).sha256)
        port = free_port()
        log = self.dir / "standin.log"
        with open(log, "w") as out:
            proc = subprocess.Popen([*binaries.command_for(kept), "--port", str(port), "--inmem",
                                     "--log-level", "error"], stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: answers(port), timeout=20, message=lambda: log.read_text())
            self.assertEqual(http_request(port, "GET", "/hello")[0], 200)
            # Its baked --log-level debug comes last and wins, as --server-arg does.
            wait_until(lambda: "[DEBUG] 200 GET /hello" in log.read_text(), timeout=10,
                       message=lambda: log.read_text())
        finally:
            proc.kill()
            proc.wait()

    def test_prune_keeps_what_it_is_told_and_in_progress_copies(self):
        names = []
        for text in ("a", "b", "c"):
            kept = binaries.keep(binaries.identify([str(self.binary(text, text, 0o755))], [], None), self.store)
            names.append(kept.name)
        (self.store / ".partial-xyz").write_text("being written")
        (self.store / "notes.txt").write_text("not ours")
        # names[2] is another database's (or a run's that has not stored its hash yet).
        removed = binaries.prune(self.store, {names[1]}, known_hashes={names[0], names[1]})
        self.assertEqual(removed, [names[0]])
        self.assertEqual(sorted(p.name for p in self.store.iterdir()),
                         sorted([".partial-xyz", names[1], names[2], "notes.txt"]))
        self.assertEqual(binaries.store_size(self.store)[0], 3)


class Retention(TempDirTestCase):
    def test_newest_runs_named_baselines_and_running_runs_are_kept(self):
        from lib.db import open_db
        db = open_db(self.db)
        ids = {}
        for name, status in (("running", "running"), ("named", "complete"), ("old", "complete"),
                             ("new1", "complete"), ("new2", "complete")):
            ids[name] = db.create_run({"timestamp": "2026-11-30 10:00:00", "status": status,
                                       "binary_sha256": name})
        db.mark_named_as_baseline(ids["named"])
        self.assertEqual(db.binaries_to_keep(2), {"new1", "new2", "named", "running"})
        self.assertEqual(db.binaries_to_keep(0), {"running"})  # 0 keeps none but what a run is using
        self.assertEqual(db.binary_hashes(), {"running", "named", "old", "new1", "new2"})
        db.close()


if __name__ == "__main__":
    unittest.main()

"""docs/json.md names every field the JSON outputs carry: a run's report
(benchmark.py --json, show_results.py --run --json) and --compare --json."""
import re
import tempfile
import unittest
from pathlib import Path

from lib.show import comparison_view, history, report
from lib.db import open_db
from tests.support import REPO
from tests.test_one_truth import build_history


def documented() -> set[str]:
    return set(re.findall(r"`([a-z_0-9]+)`", (REPO / "docs" / "json.md").read_text()))


class JsonReference(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        path = Path(cls.tmp.name) / "r.db"
        ids = build_history(path)
        db = open_db(path, readonly=True)
        cls.run_json = report.to_json(report.collect(db, ids[-1]))
        cls.compare_json = comparison_view.compare_json(
            history.compare_runs(db, str(ids[-2]), str(ids[-1]), threshold_pct=5.0), 5.0)
        db.close()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def assert_documented(self, fields, where: str):
        missing = sorted(set(fields) - documented())
        self.assertEqual(missing, [], f"{where}: not in docs/json.md")

    def test_a_run(self):
        out = self.run_json
        self.assert_documented(out, "top level")
        self.assert_documented(out["results"][0], "results[]")
        entry = out["comparison"]["/hello"]
        self.assert_documented(entry, "comparison")
        self.assert_documented(entry["metrics"], "comparison metrics")
        self.assert_documented(entry["metrics"]["p99_ms"], "a metric")
        self.assert_documented(out["comparison_summary"], "comparison_summary")

    def test_compare(self):
        self.assert_documented(self.compare_json, "--compare --json")
        self.assertEqual(self.compare_json["comparison"], self.run_json["comparison"])


if __name__ == "__main__":
    unittest.main()

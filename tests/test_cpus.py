"""lib/machine/cpus.py: splitting the CPUs between the servers and the load generator,
/proc/stat's counters, the figures of a sample and the note they may earn."""
import os
import subprocess
import sys
import unittest
from unittest import mock

from lib.machine import cpus, disturbance
from lib.machine.cpus import CpuTimes, MachineSnapshot, Pinning

STAT = """cpu  463180 2737 197506 919626 2075 0 17703 144 0 0
cpu0 216845 1258 95563 478430 351 0 8734 69 0 0
cpu1 246335 1479 101943 441196 1724 0 8969 75 0 0
intr 123 4 5
ctxt 99
"""


class Split(unittest.TestCase):
    def test_two_cpus_one_each(self):
        self.assertEqual(cpus.split({0, 1}), Pinning(frozenset({0}), frozenset({1})))

    def test_one_cpu_cannot_be_split(self):
        self.assertIsNone(cpus.split({3}))
        self.assertIsNone(cpus.split(set()))

    def test_the_server_gets_the_larger_half(self):
        pin = cpus.split({0, 1, 2})
        self.assertEqual((pin.server, pin.load), ({0, 1}, {2}))
        pin = cpus.split({4, 5, 6, 7})
        self.assertEqual((pin.server, pin.load), ({4, 5}, {6, 7}))

    def test_sibling_threads_stay_on_one_side(self):
        # Two cores of two threads each, numbered as Linux often does: 0/2 and 1/3.
        pin = cpus.split({0, 1, 2, 3}, [{0, 2}, {1, 3}, {0, 2}, {1, 3}])
        self.assertEqual((pin.server, pin.load), ({0, 2}, {1, 3}))

    def test_siblings_outside_the_allowed_set_are_ignored(self):
        pin = cpus.split({0, 1}, [{0, 2}, {1, 3}])
        self.assertEqual((pin.server, pin.load), ({0}, {1}))

    def test_one_core_with_two_threads_splits_its_threads(self):
        pin = cpus.split({0, 1}, [{0, 1}, {0, 1}])
        self.assertEqual((pin.server, pin.load), ({0}, {1}))

    def test_sets_are_disjoint_and_cover_the_allowed(self):
        for n in range(2, 9):
            pin = cpus.split(range(n))
            self.assertFalse(pin.server & pin.load)
            self.assertEqual(pin.cpus, set(range(n)))

    def test_describe_and_lists(self):
        self.assertEqual(Pinning(frozenset({0}), frozenset({1})).describe(), "server 0 / load 1")
        self.assertEqual(cpus.cpu_list({0, 1, 2, 5, 7, 8}), "0-2,5,7-8")
        self.assertEqual(cpus.parse_cpu_list("0-2,5,7-8\n"), {0, 1, 2, 5, 7, 8})
        self.assertEqual(cpus.parse_cpu_list(cpus.cpu_list({3, 9, 10})), {3, 9, 10})


class ProcStat(unittest.TestCase):
    def test_the_machine_line(self):
        times = cpus.parse_stat(STAT)
        self.assertEqual(times.total, 463180 + 2737 + 197506 + 919626 + 2075 + 0 + 17703 + 144)
        self.assertEqual(times.idle, 919626 + 2075)
        self.assertEqual(times.steal, 144)
        self.assertEqual(times.busy, times.total - times.idle - times.steal)

    def test_some_cpus(self):
        one = cpus.parse_stat(STAT, {1})
        self.assertEqual(one.steal, 75)
        both = cpus.parse_stat(STAT, {0, 1})
        self.assertEqual(both.steal, 69 + 75)
        self.assertIsNone(cpus.parse_stat(STAT, {7}))

    def test_an_old_kernel_without_steal(self):
        times = cpus.parse_stat("cpu  10 0 5 100\ncpu0 10 0 5 100\n", {0})
        self.assertEqual((times.total, times.idle, times.steal), (115, 100, 0))

    def test_this_machine(self):
        snap = cpus.snapshot(os.sched_getaffinity(0))
        self.assertIsNotNone(snap.times)
        self.assertGreater(snap.times.total, 0)


def snap(total, idle, steal, own=0.0):
    return MachineSnapshot(CpuTimes(total, idle, steal), own)


class Figures(unittest.TestCase):
    TICKS = cpus._TICKS

    def test_steal_and_other_load(self):
        # 2 CPUs for 1 s: 2 s of CPU time. 0.1 s stolen, 1.5 s busy, of which
        # the server used 0.6 s and this process with ab 0.5 s: 0.4 s other.
        t = self.TICKS
        before, after = snap(0, 0, 0, own=1.0), snap(2 * t, int(0.4 * t), int(0.1 * t), own=1.5)
        figures = cpus.sample_figures(before, after, server_cpu_s=0.6)
        self.assertAlmostEqual(figures["steal_pct"], 5.0, places=1)
        self.assertAlmostEqual(figures["other_busy_pct"], 20.0, places=1)

    def test_never_below_zero(self):
        # Tick rounding can make our own share exceed what /proc/stat counted busy.
        t = self.TICKS
        figures = cpus.sample_figures(snap(0, 0, 0), snap(t, t // 2, 0, own=0.3), server_cpu_s=0.3)
        self.assertEqual(figures["other_busy_pct"], 0.0)

    def test_unknown_server_cpu_gives_no_other_load(self):
        t = self.TICKS
        figures = cpus.sample_figures(snap(0, 0, 0), snap(t, 0, t // 10), server_cpu_s=None)
        self.assertIsNone(figures["other_busy_pct"])
        self.assertEqual(figures["steal_pct"], 10.0)

    def test_no_stat_or_no_time(self):
        none = MachineSnapshot(None, 0.0)
        self.assertEqual(cpus.sample_figures(none, none, 1.0), {"steal_pct": None, "other_busy_pct": None})
        self.assertEqual(cpus.sample_figures(snap(5, 0, 0), snap(5, 0, 0), 1.0),
                         {"steal_pct": None, "other_busy_pct": None})

    def test_too_short_to_tell(self):
        # A few ticks either way would swing a 0.1 s sample's shares by 10%.
        short = cpus.sample_figures(snap(0, 0, 0), snap(cpus.MIN_TICKS - 1, 0, 10), 0.0)
        self.assertEqual(short, {"steal_pct": None, "other_busy_pct": None})
        self.assertIsNotNone(cpus.sample_figures(snap(0, 0, 0), snap(cpus.MIN_TICKS, 0, 10), 0.0)["steal_pct"])

    def test_worst_over_samples(self):
        rows = [{"steal_pct": 1.0, "samples": [{"steal_pct": 0.5, "other_busy_pct": 3.0},
                                               {"steal_pct": 7.5, "other_busy_pct": None}]},
                {"steal_pct": 2.0, "other_busy_pct": 40.0, "samples": []}]
        self.assertEqual(disturbance.worst(rows), (7.5, 40.0))
        self.assertEqual(disturbance.worst([{"samples": [{}]}]), (None, None))


class OneCpu(unittest.TestCase):
    def test_for_run_says_it_cannot_pin(self):
        with mock.patch.object(cpus.os, "sched_getaffinity", return_value={0}):
            pin, sentence = cpus.for_run()
        self.assertIsNone(pin)
        self.assertIn("only one CPU (0)", sentence)
        self.assertIn("measuring unpinned", sentence)


class Note(unittest.TestCase):
    def test_quiet_machines_get_none(self):
        self.assertIsNone(disturbance.disturbance_note(None, None))
        self.assertIsNone(disturbance.disturbance_note(disturbance.STEAL_NOTE_PCT - 0.1, disturbance.OTHER_BUSY_NOTE_PCT - 0.1))

    def test_either_figure_earns_a_note(self):
        note = disturbance.disturbance_note(disturbance.STEAL_NOTE_PCT, 0.0)
        self.assertIn("stole 5%", note)
        self.assertNotIn("other processes", note)
        note = disturbance.disturbance_note(0.0, 31.2)
        self.assertIn("other processes kept 31% of the CPUs busy", note)
        self.assertIn("may be spoiled", note)


@unittest.skipUnless(len(os.sched_getaffinity(0)) >= 2, "only one CPU is available: nothing to pin")
class Affinity(unittest.TestCase):
    def test_a_child_and_its_threads_get_the_set(self):
        pin = cpus.split(os.sched_getaffinity(0))
        code = ("import os, threading\n"
                "seen = []\n"
                "t = threading.Thread(target=lambda: seen.append(os.sched_getaffinity(0)))\n"
                "t.start(); t.join()\n"
                "print(sorted(os.sched_getaffinity(0)), sorted(seen[0]))\n")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                              preexec_fn=cpus.child_on(pin.server))
        expected = sorted(pin.server)
        self.assertEqual(done.stdout.strip(), f"{expected} {expected}", done.stderr)

    def test_running_on_restores_the_thread(self):
        before = os.sched_getaffinity(0)
        pin = cpus.split(before)
        with cpus.running_on(pin.load):
            self.assertEqual(os.sched_getaffinity(0), pin.load)
        self.assertEqual(os.sched_getaffinity(0), before)
        with cpus.running_on(None):
            self.assertEqual(os.sched_getaffinity(0), before)

    def test_for_run_says_where(self):
        pin, sentence = cpus.for_run()
        self.assertIsNotNone(pin)
        self.assertIn(f"servers on CPU {cpus.cpu_list(pin.server)}", sentence)


if __name__ == "__main__":
    unittest.main()

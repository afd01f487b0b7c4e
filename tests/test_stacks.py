"""lib/explain/stacks.py on real `perf script` output (tests/fixtures/perf/, see its
README): parsing both formats, folding, the figures (self and total, µs per
request, where the time went), the differential and the symbols check."""
import unittest
from collections import Counter
from functools import lru_cache

from lib.explain import stacks
from tests.support import REPO

PERF = REPO / "tests" / "fixtures" / "perf"
HBF = "/home/dev/hbf/bazel-bin/bin/hbf_test"
STANDIN = ("python3.11", "libpython3.11.so.1.0")  # the interpreter and its library


@lru_cache(maxsize=None)
def samples(name: str) -> tuple[stacks.Sample, ...]:
    return tuple(stacks.parse_script((PERF / f"{name}.txt").read_text()))


@lru_cache(maxsize=None)
def folded(name: str) -> dict[str, int]:
    return dict(stacks.fold(samples(name)))


class ParseHbf(unittest.TestCase):
    """`perf script -F comm,tid,time,event,ip,sym,dso` of real HBF."""

    def test_every_sample_with_its_thread_and_frames(self):
        found = samples("hello-de7dd3b")
        self.assertEqual(len(found), 560)  # 560 headers in the file
        self.assertEqual(Counter(s.comm for s in found), {"civetweb-worker": 556, "civetweb-master": 4})
        first = found[0]
        self.assertEqual((first.tid, first.time, first.event), (31979, 1429.40752, "cpu-clock:ppp"))
        self.assertEqual(first.frames, (stacks.Frame("1b2344", "printf_core", HBF),))
        self.assertEqual(found[1].frames[0].symbol, "sqlite3WhereBegin")
        self.assertEqual(found[1].frames[-1].symbol, "start")  # innermost first, root last

    def test_a_sample_with_an_empty_call_chain_is_kept(self):
        empty = [s for s in samples("hello-de7dd3b") if not s.frames]
        self.assertEqual(len(empty), 1)
        self.assertEqual(stacks.stack_names(empty[0]), ["[unknown]"])

    def test_runs_of_unknown_frames_fold_into_one(self):
        broken = next(s for s in samples("hello-de7dd3b")
                      if sum(f.symbol == "[unknown]" for f in s.frames) > 20)
        names = stacks.stack_names(broken)
        self.assertEqual(names.count("[unknown]"), 1)
        self.assertGreater(stacks.stack_names(broken, collapse_unknown=False).count("[unknown]"), 20)

    def test_folded_stacks_root_first(self):
        f = folded("hello-de7dd3b")
        self.assertEqual(sum(f.values()), 560)
        self.assertIn("start;worker_thread;handle_request;hbf_qjs_request_handler;hbf_db_read_file;"
                      "sqlite3_prepare_v2;sqlite3LockAndPrepare;sqlite3Prepare;sqlite3RunParser;"
                      "yy_reduce.constprop.0;sqlite3Select;sqlite3Select;sqlite3WhereBegin", f)
        self.assertEqual(f["printf_core"], 1)


class ParseStandin(unittest.TestCase):
    """The default `perf script` format, from the stand-in (python)."""

    def test_header_and_offsets(self):
        first = samples("standin-hello")[0]
        self.assertEqual((first.comm, first.tid, first.period, first.event),
                         ("python3", 11182, 1001001, "cpu-clock:ppp"))
        self.assertEqual(first.frames[0], stacks.Frame("ffffffff821ef0fd", "__put_user_8", "[kernel.kallsyms]"))
        self.assertEqual(first.frames[-1].symbol, "__GI___lll_lock_wait")
        self.assertEqual(len(samples("standin-hello")), 100)

    def test_python_frames(self):
        f = folded("standin-hello")
        self.assertFalse([stack for stack in f if "+0x" in stack])
        self_, total = stacks.function_samples(f)
        self.assertGreater(total["_PyEval_EvalFrameDefault"], 3)
        self.assertEqual(stacks.top(f, 1)[0].name, "finish_task_switch.isra.0")
        work = stacks.function_samples(folded("standin-work500-keepalive"))[1]
        self.assertGreater(work["clock_gettime@@GLIBC_2.17"], 100)  # a versioned libc symbol, as perf wrote it

    def test_the_interpreter_is_the_server(self):
        prof = stacks.profile(samples("standin-hello-keepalive"), STANDIN)
        self.assertEqual(prof.kinds["_PyEval_EvalFrameDefault"], "server")
        self.assertEqual(prof.kinds["__tcp_select_window"], "kernel")
        self.assertEqual(prof.kinds["__memmove_avx512_unaligned_erms"], "library")
        self.assertAlmostEqual(prof.kind_share("server"), 0.65, delta=0.03)
        self.assertTrue(stacks.has_symbols(prof))


class ParseOddLines(unittest.TestCase):
    """Lines real perf writes that the captures above happen not to hold."""

    def test_cplusplus_names_deleted_objects_missing_symbols(self):
        frame = stacks.parse_frame("\t    55d0c8a1b2c3 std::vector<int, std::allocator<int> >::push_back(int const&)+0x1f "
                                   "(/opt/app/bin/server (deleted))")
        self.assertEqual(frame.symbol, "std::vector<int, std::allocator<int> >::push_back(int const&)")
        self.assertEqual(frame.dso, "/opt/app/bin/server (deleted)")
        self.assertEqual(stacks.frame_kind(frame, "/opt/app/bin/server (deleted)"), "server")
        op = stacks.parse_frame("\t 1234 operator()(Request&) const (/usr/lib/libapp.so)")
        self.assertEqual((op.symbol, op.dso, op.name), ("operator()(Request&) const", "/usr/lib/libapp.so",
                                                         "operator()(Request&) const"))
        libc = stacks.parse_frame("\t    7f0011223344 [unknown] (/usr/lib/x86_64-linux-gnu/libc.so.6)")
        self.assertEqual((libc.name, libc.resolved), ("[libc.so.6]", False))
        self.assertEqual(stacks.parse_frame("\t 7f00aa [unknown] ([unknown])").name, "[unknown]")
        self.assertEqual(stacks.parse_frame("\t ffffffffc0a01234 nft_do_chain+0x9c ([nf_tables])").name,
                         "nft_do_chain")
        self.assertTrue(stacks.parse_frame("\t ffffffffc0a01234 nft_do_chain+0x9c ([nf_tables])").in_kernel)
        self.assertIsNone(stacks.parse_frame("  util.c:123"))  # a srcline line
        self.assertFalse(stacks.parse_frame("\t 55d0c8a1b2c3 0x55d0c8a1b2c3 (/srv/hbf_test)").resolved)
        self.assertFalse(stacks.parse_frame("\t 55d0c8a1b2c3 55d0c8a1b2c3 (/srv/hbf_test)").resolved)
        self.assertTrue(stacks.parse_frame("\t 55d0c8a1b2c3 facade (/srv/hbf_test)").resolved)

    def test_warnings_spaces_in_comm_cpu_column_no_call_chain(self):
        text = ("Warning:\nProcessed 3180 events and lost 2 chunks!\n\n"
                "Check IO/CPU overload!\n\n"
                "Failed to open /tmp/perf-4242.map, continuing without symbols\n"
                "Web Content  4242/4250 [001] 12.345678:    1001001 cpu-clock:ppp: \n"
                "\tffffffff81000130 entry_SYSCALL_64+0x76 ([kernel.kallsyms])\n"
                "\t    7f0011223344 poll+0x4 (/usr/lib/libc.so.6)\n\n"
                "hbf_test 77 [000] 13.000001: 250000 cycles:P:       4375 hbf_db_read_file+0x15 (/srv/hbf_test)\n")
        found = stacks.parse_script(text)
        self.assertEqual(len(found), 2)
        web, flat = found
        self.assertEqual((web.comm, web.pid, web.tid, web.event), ("Web Content", 4242, 4250, "cpu-clock:ppp"))
        self.assertEqual([f.name for f in web.frames], ["entry_SYSCALL_64", "poll"])
        self.assertEqual((flat.comm, flat.tid, flat.event, flat.period), ("hbf_test", 77, "cycles:P", 250000))
        self.assertEqual(flat.frames, (stacks.Frame("4375", "hbf_db_read_file", "/srv/hbf_test"),))
        self.assertEqual(dict(stacks.fold(found, comm=True)),
                         {"Web Content;poll;entry_SYSCALL_64": 1, "hbf_test;hbf_db_read_file": 1})

    def test_a_semicolon_in_a_name_cannot_split_a_frame(self):
        frame = stacks.parse_frame("\t 1234 odd;name (/x)")
        self.assertEqual(frame.name, "odd:name")


class FoldedText(unittest.TestCase):
    def test_round_trip_of_a_real_profile(self):
        f = folded("hello-de7dd3b")
        text = stacks.folded_text(f)
        self.assertEqual(stacks.parse_folded(text), f)
        self.assertEqual(text, stacks.folded_text(stacks.parse_folded(text)))
        self.assertIn("\nprintf_core 1\n", text)
        self.assertEqual(len(text.splitlines()), len(f))

    def test_names_with_spaces_and_repeated_stacks(self):
        text = "main;operator()(int) const;std::string::append 3\nmain 2\n\nmain 1\n"
        self.assertEqual(stacks.parse_folded(text),
                         {"main;operator()(int) const;std::string::append": 3, "main": 3})

    def test_a_line_that_is_not_stack_count(self):
        for bad in ("main;f\n", "main;f x\n", "7\n"):
            with self.subTest(text=bad), self.assertRaisesRegex(ValueError, "line 1"):
                stacks.parse_folded(bad)


class Figures(unittest.TestCase):
    def test_self_and_total_on_hello_de7dd3b(self):
        f = folded("hello-de7dd3b")
        # the issue said 48% under the handler and 24% in hbf_db_read_file; the capture says:
        self.assertAlmostEqual(stacks.function_share(f, "hbf_qjs_request_handler"), 0.455, delta=0.01)
        self.assertAlmostEqual(stacks.function_share(f, "hbf_db_read_file"), 0.216, delta=0.01)
        self.assertEqual([(t.name, t.samples) for t in stacks.top(f, 5)],
                         [("_raw_spin_unlock_irqrestore", 40), ("memcpy", 37), ("exc_page_fault", 28),
                          ("smp_call_function_many_cond", 28), ("finish_task_switch.isra.0", 21)])
        total = stacks.top(f, 5, by="total")
        self.assertEqual([t.name for t in total],
                         ["start", "worker_thread", "handle_request", "hbf_qjs_request_handler", "do_syscall_64"])
        self.assertAlmostEqual(total[0].share, 263 / 560)

    def test_top_orders_by_samples_then_name_and_counts_recursion_once(self):
        f = {"main;f;f;f": 4, "main;g": 4, "main;f;h": 1, "other": 1}
        self.assertEqual([(t.name, t.samples, t.share) for t in stacks.top(f, 3)],
                         [("f", 4, 0.4), ("g", 4, 0.4), ("h", 1, 0.1)])
        self.assertEqual([(t.name, t.samples) for t in stacks.top(f, 10, by="total")],
                         [("main", 9), ("f", 5), ("g", 4), ("h", 1), ("other", 1)])
        self.assertEqual(stacks.top({}, 5), [])
        with self.assertRaises(ValueError):
            stacks.top(f, by="children")

    def test_microseconds_per_request(self):
        self.assertAlmostEqual(stacks.us_per_request(999, 999, 1000), 1000.0)
        self.assertAlmostEqual(stacks.us_per_request(560, 499, 600), 1870.4074, places=3)
        self.assertEqual(stacks.us_per_request(0, 999, 10), 0.0)
        for freq, requests in ((0, 10), (999, 0)):
            with self.assertRaises(ValueError):
                stacks.us_per_request(5, freq, requests)


class WhereTheTimeWent(unittest.TestCase):
    def test_kernel_and_server_shares_of_hbf(self):
        prof = stacks.profile(samples("hello-de7dd3b"), HBF)
        self.assertEqual(prof.samples, 560)
        self.assertEqual(prof.self_by_kind, {"server": 232, "kernel": 327, "library": 0, "unknown": 1})
        shares = stacks.kind_shares(prof)
        self.assertAlmostEqual(shares["kernel"], 0.584, delta=0.005)
        self.assertAlmostEqual(sum(shares.values()), 1.0)
        self.assertEqual(prof.kinds["hbf_qjs_request_handler"], "server")
        self.assertEqual(prof.kinds["do_syscall_64"], "kernel")
        self.assertEqual(prof.threads, {"civetweb-worker": 556, "civetweb-master": 4})
        callers = Counter(prof.kernel_callers).most_common(3)
        self.assertEqual({name for name, _ in callers}, {"memcpy", "__unlock", "__munmap"})
        self.assertEqual(sum(prof.kernel_callers.values()), 327)
        self.assertEqual(prof.folded, folded("hello-de7dd3b"))

    def test_the_server_by_basename_or_path(self):
        by_path = stacks.profile(samples("hello-b4b3e45"), HBF)
        self.assertEqual(stacks.profile(samples("hello-b4b3e45"), "hbf_test").self_by_kind, by_path.self_by_kind)
        self.assertEqual(stacks.profile(samples("hello-b4b3e45"), "nginx").self_by_kind["server"], 0)
        self.assertEqual(stacks.guess_server(samples("hello-b4b3e45")), HBF)
        self.assertIsNone(stacks.guess_server(samples("standin-hello")))  # only libpython: a library

    def test_symbols(self):
        self.assertTrue(stacks.has_symbols(stacks.profile(samples("hello-de7dd3b"), HBF)))
        stripped = stacks.profile(samples("stripped-busy"), "busy")
        self.assertEqual(stripped.unresolved_server_frames, stripped.server_frames)
        self.assertGreater(stripped.server_frames, 100)
        self.assertFalse(stacks.has_symbols(stripped))
        self.assertEqual(stacks.top(stripped.folded, 1)[0].name, "[busy]")
        self.assertFalse(stacks.has_symbols(stacks.profile(samples("hello-de7dd3b"), "not-the-server")))


class Differential(unittest.TestCase):
    def test_the_work_function_grows(self):
        # the stand-in's --work-us spins on time.thread_time(): clock_gettime(CLOCK_THREAD_CPUTIME_ID)
        d = stacks.diff(folded("standin-hello-keepalive"), 2000, folded("standin-work500-keepalive"), 300, 999)
        self.assertAlmostEqual(d.base_us_per_request, 107 / 999 / 2000 * 1e6)
        self.assertAlmostEqual(d.cand_us_per_request, 202 / 999 / 300 * 1e6)
        self.assertAlmostEqual(d.cand_us_per_request - d.base_us_per_request, 500 + 120, delta=100)
        grew = {c.name: c for c in d.by_total if c.change_us > 0 and c.significant}
        self.assertIn("clock_gettime@@GLIBC_2.17", grew)
        self.assertIn("__x64_sys_clock_gettime", grew)
        self.assertIsNone(grew["__x64_sys_clock_gettime"].change_pct)  # not in the base at all
        self.assertAlmostEqual(grew["clock_gettime@@GLIBC_2.17"].cand_us, 137 / 999 / 300 * 1e6)
        self.assertGreater(grew["clock_gettime@@GLIBC_2.17"].cand_us, 0.6 * d.cand_us_per_request)
        self.assertTrue(all(c.change_us > 0 for c in d.by_self[:5]))
        changes = [abs(c.change_us) for c in d.by_total]
        self.assertEqual(changes, sorted(changes, reverse=True))
        self.assertEqual(len(d.by_total), 10)

    def test_hbf_across_the_mutex_commit(self):
        d = stacks.diff(folded("hello-b4b3e45"), 500, folded("hello-8b3da16"), 500, 499, n=8)
        by_name = {c.name: c for c in d.by_total}
        self.assertEqual(by_name["hbf_db_read_file"].cand_us, 0.0)  # gone: file reads shared
        self.assertAlmostEqual(by_name["hbf_db_read_file"].base_us, 137 / 499 / 500 * 1e6)
        self.assertAlmostEqual(by_name["hbf_db_read_file"].change_pct, -100.0)
        self.assertGreater(by_name["overlay_fs_read_file"].change_us, 0)
        self.assertLess(by_name["__unlock"].change_us, 0)  # less futex work
        self.assertTrue(by_name["__unlock"].significant)
        self.assertLess(d.cand_us_per_request, d.base_us_per_request)  # less CPU, yet fewer req/s

    def test_noise_and_another_frequency(self):
        d = stacks.diff({"a": 100}, 100, {"a": 110}, 100, 1000, cand_freq_hz=500)
        (change,) = d.by_total
        self.assertEqual((change.base_us, change.cand_us, change.change_us), (1000.0, 2200.0, 1200.0))
        self.assertAlmostEqual(change.change_pct, 120.0)
        same = stacks.diff({"a": 100}, 100, {"a": 110}, 100, 1000)
        self.assertFalse(same.by_total[0].significant)  # 10 more samples in 100: noise
        self.assertEqual(stacks.diff({"a": 5}, 10, {"a": 5}, 10, 99).by_total, [])


if __name__ == "__main__":
    unittest.main()

"""hbf-bench tests.

Every process the suite starts inherits HBF_BENCH_TEST_TAG, so a test can find
any server, ab or script that outlived it. `python3 -m tests` runs several
modules at once and gives each its own tag (so one module's check never sees
another module's servers) and all of them one HBF_BENCH_SUITE_TAG, which the
last test (test_zz_leftovers) checks once every module has ended.
"""
import os
import uuid

os.environ.setdefault("HBF_BENCH_TEST_TAG", uuid.uuid4().hex)
os.environ.setdefault("HBF_BENCH_SUITE_TAG", os.environ["HBF_BENCH_TEST_TAG"])

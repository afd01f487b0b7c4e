"""hbf-bench tests.

Every process the suite starts inherits HBF_BENCH_TEST_TAG, so the last test
(test_zz_leftovers) can find any server, ab or script that outlived its test.
"""
import os
import uuid

os.environ.setdefault("HBF_BENCH_TEST_TAG", uuid.uuid4().hex)

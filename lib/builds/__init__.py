"""HBF's builds and git: the checkout and its bazel build (workspace), any
revision built in a worktree without touching the checkout (revisions), the
store of every binary a run measured (binaries), and installing the skill
into a checkout (install).

May import: lib.core.
"""

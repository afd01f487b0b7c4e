"""The kept-binary store: every binary a run measured, kept by its SHA-256
next to the database (`.benchmark/binaries/<sha256>`), so that any earlier
run can be measured again side by side (`--against RUN`, confirmation,
bisect) without rebuilding its commit.

A binary is stored once however many runs use it: a hard link where the
file system allows, a copy otherwise. The stand-in has no binary: what is
kept is a small launcher holding its script and its flags, and the hash of
that launcher is the stand-in's identity, so a kept stand-in runs (and is
checked) like a kept HBF.

Retention (`prune`): the binaries of the newest N runs, plus every run
named as a baseline (`--baseline`, `--against`, confirmation), when N > 0.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from lib.core.errors import BenchError

DEFAULT_KEEP = 20
# prune leaves a half-written copy this young alone: another run is making it.
SPARE_RECENT_S = 3600.0
_CHUNK = 1 << 20


class StoreError(BenchError):
    """A kept binary is missing or cannot be kept; the message names the fix."""


@dataclass
class Identity:
    """What a run measured: the SHA-256 of its binary, or of the stand-in's
    launcher (its script and flags), and how to make the kept copy."""
    sha256: str
    source: Path | None  # the binary to keep, or None for a stand-in launcher
    launcher: str | None = None  # the stand-in launcher's text


def store_dir(db_path: Path) -> Path:
    return Path(db_path).parent / "binaries"


def file_sha256(path: Path) -> str:
    import hashlib  # (the views import this module for the store's paths alone)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def identify(command: list[str], server_args: list[str], standin: Path | None) -> Identity:
    """The identity of a server command. Its last word is the program: a
    binary, a kept launcher, or the stand-in's script, which is identified by
    the launcher that would keep it with these flags."""
    program = Path(command[-1])
    if standin is not None and program == standin:
        import hashlib
        text = _launcher(standin, server_args)
        return Identity(hashlib.sha256(text.encode("utf-8")).hexdigest(), None, text)
    return Identity(file_sha256(program), program)


def command_for(path: Path) -> list[str]:
    """The command that runs a kept binary (a kept stand-in is a Python program)."""
    return [sys.executable, "-S", str(path)] if baked_args(path) is not None else [str(path)]


def baked_args(path: Path) -> list[str] | None:
    """The flags inside a kept stand-in's launcher; None for any other file."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return None
    lines = head.decode("utf-8", "replace").splitlines()
    if len(lines) < 4 or not lines[1].startswith(_MARKER) or not lines[3].startswith("sys.argv += "):
        return None
    import ast
    return ast.literal_eval(lines[3].removeprefix("sys.argv += "))


def effective_args(command: list[str], extra_args: list[str]) -> list[str]:
    """The flags a server really ran with: a kept stand-in's baked ones first."""
    return (baked_args(Path(command[-1])) or []) + list(extra_args)


def keep(identity: Identity, store: Path) -> Path:
    """The kept copy of the identified binary (made now if missing)."""
    target = store / identity.sha256
    if target.exists():
        if identity.launcher is not None or file_sha256(target) == identity.sha256:
            return target
        target.unlink()  # changed in place since it was kept (see verified): keep it afresh
    store.mkdir(parents=True, exist_ok=True)
    import tempfile  # (the views import this module for the store's paths alone)
    # Made under a temporary name and renamed: a half-written file never
    # carries a hash's name.
    handle, temporary = tempfile.mkstemp(dir=store, prefix=".partial-")
    os.close(handle)
    try:
        if identity.launcher is not None:
            Path(temporary).write_text(identity.launcher, encoding="utf-8")
            os.chmod(temporary, 0o755)
        else:
            _link_or_copy(identity.source, Path(temporary))
        os.replace(temporary, target)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise StoreError(f"cannot keep the binary in {store}: {exc.strerror or exc}") from None
    return target


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link shares the file: safe only for one nobody writes in place.
    Bazel's outputs are read-only and replaced whole on a rebuild; a binary
    someone may overwrite (`cp`, `curl -o`, `rsync --inplace`) is copied."""
    import shutil
    target.unlink()
    if source.stat().st_mode & 0o222 == 0:
        try:
            os.link(source, target)
            return
        except OSError:  # another file system, or links not allowed
            pass
    shutil.copy2(source, target)


_MARKER = "# hbf-bench: a kept stand-in"


def _launcher(script: Path, args: list[str]) -> str:
    """A Python program that runs `script`'s source (kept inside it, as it is
    now) with `args` after any given on its command line, where a run puts
    --server-arg flags (so they win over the tool's own, as they did). Its text depends
    on the script and the flags only: its hash is the stand-in's identity."""
    import base64
    import zlib
    packed = base64.b64encode(zlib.compress(script.read_bytes(), 9)).decode("ascii")
    return ("#!/usr/bin/env python3\n"
            f"{_MARKER} (its script and flags, as a run measured them)\n"
            "import base64, sys, zlib\n"
            f"sys.argv += {list(args)!r}\n"
            f"SOURCE = zlib.decompress(base64.b64decode({packed!r}))\n"
            "exec(compile(SOURCE, 'standin.py', 'exec'), {'__name__': '__main__'})\n")


def same_build(a: dict, b: dict) -> bool:
    """Two runs measured the very same binary with the same flags (both known)."""
    return (bool(a.get("binary_sha256")) and a.get("binary_sha256") == b.get("binary_sha256")
            and (a.get("server_args") or "[]") == (b.get("server_args") or "[]"))


def kept_path(store: Path, sha256: str | None) -> Path | None:
    """The kept binary of that hash, or None when it is not (or no longer) kept."""
    if not sha256:
        return None
    path = store / sha256
    return path if path.is_file() else None


def verified(store: Path, sha256: str) -> Path:
    """The kept binary, checked against its name before it is run: a hard
    link shares its file with the original, which a `cp` over the original
    changes in place."""
    path = kept_path(store, sha256)
    if path is None:
        raise StoreError(f"the binary {sha256[:12]} is no longer kept in {store}")
    if file_sha256(path) != sha256:
        path.unlink(missing_ok=True)
        raise StoreError(f"the kept binary {sha256[:12]} was changed after it was kept (the original "
                         "was overwritten in place); it is removed: rebuild that commit instead")
    return path


def prune(store: Path, keep_hashes: set[str], known_hashes: set[str]) -> list[str]:
    """Remove the kept binaries a database knows (`known_hashes`: its runs')
    that it no longer keeps (`keep_hashes`); returns the removed hashes. A
    binary the database does not know is left alone: another database in
    the same folder may keep it, or a run beside this one has just kept it
    and not yet stored its hash. Only files named like a hash (or old
    half-written copies) are touched."""
    if not store.is_dir():
        return []
    removed = []
    recent = time.time() - SPARE_RECENT_S
    for path in store.iterdir():
        name = path.name
        if name in keep_hashes or not ((is_hash_name(name) and name in known_hashes)
                                       or name.startswith(".partial-")):
            continue
        try:
            if not path.is_file() or (name.startswith(".partial-") and path.stat().st_ctime > recent):
                continue  # another run is writing it right now
            path.unlink()
        except FileNotFoundError:
            continue
        removed.append(name)
    return removed


def is_hash_name(name: str) -> bool:
    """A kept binary's file name: 64 lowercase hex digits."""
    return len(name) == 64 and all(c in "0123456789abcdef" for c in name)


def stored_hashes(store: Path) -> set[str]:
    return {p.name for p in store.iterdir() if is_hash_name(p.name)} if store.is_dir() else set()


def store_size(store: Path) -> tuple[int, int]:
    """(files, bytes) in the store; a hard link's bytes count once per file here."""
    if not store.is_dir():
        return 0, 0
    files = [p for p in store.iterdir() if p.is_file() and not p.name.startswith(".")]
    return len(files), sum(p.stat().st_size for p in files)

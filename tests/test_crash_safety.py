"""Crash safety: a writer killed at any point leaves the old file or the whole new one.

A subprocess rewrites one destination in a loop through ``write_atomically`` (temporary file
in the same directory, fsync, rename), alternating two contents of 2 MB that differ in every
block; the test SIGKILLs it at random moments, many times, and checks the destination after
each kill. Then two processes write the same destination at once.

A SIGKILL between creating the temporary file and renaming it leaves that temporary file
(``.<name>.<pid>.<random>.tmp``) behind: no code runs in a killed process. The next write to
the same destination removes temporaries whose writer is dead, so after it nothing is left;
a live concurrent writer's temporary is never touched.
"""

from __future__ import annotations

import errno
import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from truststore_builder import OutputError, OutputExistsError
from truststore_builder._writing import write_atomically

_SIZE = 2 * 1024 * 1024
_WRITER = f"""
import sys
from pathlib import Path
from truststore_builder._writing import write_atomically

target, seed, count = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
contents = [bytes([(seed + i) % 256]) * {_SIZE} + b"%d" % i for i in range(2)]
print("ready", flush=True)
for n in range(count):
    write_atomically(target, contents[n % 2], overwrite=True, private=True)
"""


def _contents(seed: int) -> list[bytes]:
    return [bytes([(seed + i) % 256]) * _SIZE + b"%d" % i for i in range(2)]


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _start(target: Path, seed: int, count: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(target), str(seed), str(count)],
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == b"ready\n"
    return process


def _leftovers(directory: Path, name: str) -> list[Path]:
    return sorted(directory.glob(f".{name}.*.tmp"))


@pytest.mark.slow
def test_a_writer_killed_at_random_leaves_old_or_new_never_partial(tmp_path: Path) -> None:
    """40 SIGKILLs at random moments: the destination is always one whole content."""
    target = tmp_path / "store.p12"
    old = b"the old store\n"
    write_atomically(target, old, overwrite=False, private=True)
    allowed = {_digest(old), *(_digest(c) for c in _contents(7))}
    rng = random.Random(8)  # noqa: S311
    kills = 0
    deadline = time.monotonic() + 25
    while kills < 40 and time.monotonic() < deadline:
        process = _start(target, 7, 1000)
        time.sleep(rng.uniform(0, 0.05))
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
        assert _digest(target.read_bytes()) in allowed, f"partial file after kill {kills}"
        assert target.stat().st_mode & 0o777 == 0o600
        # What a kill leaves: hidden temporaries named after the destination, nothing else.
        others = {p.name for p in tmp_path.iterdir()} - {target.name}
        assert all(n.startswith(f".{target.name}.") and n.endswith(".tmp") for n in others)
    assert kills >= 30
    # The next write clears what the killed writers left.
    write_atomically(target, old, overwrite=True, private=True)
    assert _leftovers(tmp_path, target.name) == []
    assert target.read_bytes() == old


def test_a_live_writers_temporary_is_not_removed(tmp_path: Path) -> None:
    """A temporary whose writer is alive (this process's parent, say) survives a write."""
    target = tmp_path / "store.pem"
    live = tmp_path / f".{target.name}.{os.getppid()}.abcd1234.tmp"
    live.write_bytes(b"in progress")
    dead = tmp_path / f".{target.name}.{_dead_pid()}.efgh5678.tmp"
    dead.write_bytes(b"abandoned")
    write_atomically(target, b"new", overwrite=True)
    assert live.exists()
    assert not dead.exists()


def _dead_pid() -> int:
    """The PID of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_leftover_temporaries_are_only_from_kills(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer that runs to its end, or fails, leaves no temporary file."""
    target = tmp_path / "store.pem"
    process = _start(target, 3, 5)
    assert process.wait(timeout=60) == 0
    assert _leftovers(tmp_path, target.name) == []
    assert target.read_bytes() == _contents(3)[0]
    # A destination that is a directory is refused before anything is written.
    (tmp_path / "dir").mkdir()
    with pytest.raises(OutputExistsError, match="is a directory"):
        write_atomically(tmp_path / "dir", b"data", overwrite=True)
    assert _leftovers(tmp_path, "dir") == []

    # A rename that fails after the temporary is written (and the old file was kept aside).
    def failing_replace(_self: Path, _other: str | Path) -> Path:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(Path, "replace", failing_replace)
    with pytest.raises(OutputError, match="Input/output error"):
        write_atomically(target, b"data", overwrite=True)
    assert _leftovers(tmp_path, target.name) == []
    assert target.read_bytes() == _contents(3)[0]


def test_two_writers_at_once_leave_one_whole_result(tmp_path: Path) -> None:
    """Two processes rewriting one destination together: the end result is one whole content."""
    target = tmp_path / "truststore.jks"
    first, second = _start(target, 11, 20), _start(target, 101, 20)
    assert first.wait(timeout=120) == 0
    assert second.wait(timeout=120) == 0
    allowed = {_digest(c) for c in (*_contents(11), *_contents(101))}
    assert _digest(target.read_bytes()) in allowed
    assert _leftovers(tmp_path, target.name) == []


def test_without_overwrite_two_writers_never_clobber(tmp_path: Path) -> None:
    """Two creators racing for a new name: exactly one wins, the other gets OutputExistsError."""
    target = tmp_path / "new.pem"
    script = (
        "import sys\nfrom pathlib import Path\n"
        "from truststore_builder._writing import write_atomically\n"
        "from truststore_builder import OutputExistsError\n"
        "try:\n    write_atomically(Path(sys.argv[1]), sys.argv[2].encode() * 100000,"
        " overwrite=False)\nexcept OutputExistsError:\n    sys.exit(3)\n"
    )
    processes = [subprocess.Popen([sys.executable, "-c", script, str(target), tag]) for tag in "ab"]
    statuses = sorted(p.wait(timeout=60) for p in processes)
    assert statuses == [0, 3]
    data = target.read_bytes()
    assert data in {b"a" * 100000, b"b" * 100000}
    assert _leftovers(tmp_path, target.name) == []
    assert [p.name for p in tmp_path.iterdir()] == ["new.pem"]

"""Running a line probe: a program that answers each tab-separated request on stdin with a line.

The Go, Node.js and Mono probes all speak it: requests (and any password in them) go on stdin,
never on the command line; answers come back one line each, in order, fields split by tabs.
"""

from __future__ import annotations

import subprocess

from tests.commands import assert_marked_slow

_TIMEOUT = 180.0


def run_line_probe(command: list[str], requests: list[list[str]], name: str) -> list[list[str]]:
    """Run ``command`` once with every request; the answer to each, in order.

    Raises:
        AssertionError: The probe failed, or answered another number of lines (its output and
            stderr in the message).
    """
    assert_marked_slow(f"the {name} probe")
    done = subprocess.run(
        command,
        input="".join("\t".join(request) + "\n" for request in requests),
        capture_output=True,
        text=True,
        timeout=_TIMEOUT,
        check=False,
    )
    answers = [line.split("\t") for line in done.stdout.splitlines() if line]
    if done.returncode != 0 or len(answers) != len(requests):
        msg = (
            f"the {name} probe failed (exit {done.returncode}, {len(answers)} answers to "
            f"{len(requests)} requests): {done.stdout}{done.stderr}"
        )
        raise AssertionError(msg)
    return answers

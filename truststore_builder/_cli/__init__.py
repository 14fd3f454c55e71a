"""The ``truststore-builder`` command line: a thin layer over the library.

Exit status: 0 on success, 1 when a check refuses the build, 2 for usage errors and input that
cannot be read. Errors go to stderr as one line that names the file and what is wrong; the
traceback only with ``--debug``. Passwords are read from an environment variable or a file,
never from the command line, and are never printed.

One module per subcommand holds its parser and its handler (``build`` has two more: the
stores its options describe, and ``--recipe``); :mod:`.options` holds what they share,
:mod:`.output` what they print, :mod:`.errors` how errors are reported, and :mod:`.parser`
puts the subcommands together.
"""

from __future__ import annotations

import os
import sys
import traceback
import warnings
from typing import TYPE_CHECKING

from truststore_builder._cli.errors import UsageError, exit_status, report_error, show_warning
from truststore_builder._cli.output import StdoutClosedError, flush_stdout, say
from truststore_builder._cli.parser import build_parser
from truststore_builder._errors import InputError, TruststoreBuilderError, TruststoreBuilderWarning

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: The arguments after the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 success, 1 a check refused, 2 a usage error or unreadable input
        (see :mod:`.errors` for the rest).
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    # Known before parsing, so that a parse error can show its traceback too.
    debug = "--debug" in arguments
    status = 2
    try:
        args = _parse(arguments)
        handler: Callable[[argparse.Namespace], int] = args.handler
        with warnings.catch_warnings():
            # The library's warnings (a file skipped in a directory, ...) as one line each.
            warnings.simplefilter("always", TruststoreBuilderWarning)
            warnings.showwarning = show_warning
            status = handler(args)
    except SystemExit as exc:  # --help and --version
        status = exc.code if isinstance(exc.code, int) else 0
    except StdoutClosedError as exc:
        status = exit_status(exc)
    except (UsageError, TruststoreBuilderError) as exc:
        report_error(exc, debug=debug)
        status = exit_status(exc)
    except OSError as exc:
        # A file the library did not wrap: name it, without a traceback.
        where = exc.filename if exc.filename is not None else "input"
        report_error(InputError(f"{where}: {exc.strerror or exc}"), debug=debug, cause=exc)
    except KeyboardInterrupt as exc:
        status = exit_status(exc)
    except Exception as exc:  # noqa: BLE001  (the one-line promise holds for bugs too)
        message = (
            f"internal error: {type(exc).__name__}: {exc} "
            "(please report it; run with --debug for the traceback)"
        )
        report_error(RuntimeError(message), debug=debug, cause=exc)
    except BaseException as exc:
        # pyo3's PanicException (a Rust panic in cryptography) derives from BaseException, and
        # its text can hold a password's bytes: show neither it nor its traceback's last line.
        if type(exc).__name__ != "PanicException":
            raise
        if debug:
            traceback.print_tb(exc.__traceback__, file=sys.stderr)
        say(
            sys.stderr,
            "error",
            "internal error: a library panicked (its message is not shown, as it may hold a "
            "secret; please report it)",
        )
    return _output_ended(status)


def _output_ended(status: int) -> int:
    """``status``, once stdout has been flushed; a closed stdout's status if it could not be.

    When its reader has gone, what stdout still holds is thrown away, so that the interpreter's
    own flush at exit does not fail too and print "Exception ignored ... BrokenPipeError".
    """
    try:
        flush_stdout()
    except StdoutClosedError as exc:
        status = exit_status(exc)
        try:
            descriptor = sys.stdout.fileno()
        except (AttributeError, OSError, ValueError):
            return status  # not a file (a test's capture): nothing flushes it at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, descriptor)
        os.close(devnull)
    return status


def _parse(arguments: Sequence[str]) -> argparse.Namespace:
    """Parse the command line; unrecognised arguments are named without their values.

    argparse would print them all back, and a misspelt ``--pasword-env`` is followed by what
    may be a password: only what looks like an option is shown, up to any ``=``.

    Raises:
        UsageError: An argument is not recognised, or the parser refuses the command line.
    """
    parser = build_parser()
    args, extras = parser.parse_known_args(arguments)
    if extras:
        shown = [
            f"{extra.split('=', 1)[0]}=(value not shown)" if "=" in extra else extra
            for extra in extras
            if extra.startswith("-")
        ]
        hidden = len(extras) - len(shown)
        parts = [f"unrecognized arguments: {' '.join(shown)}"] if shown else []
        if hidden:
            what = "more" if shown else f"unrecognized argument{'s' if hidden > 1 else ''},"
            parts.append(f"{hidden} {what} not shown (one may be a secret)")
        msg = f"{'; '.join(parts)} (see {parser.prog} --help)"
        raise UsageError(msg)
    return args

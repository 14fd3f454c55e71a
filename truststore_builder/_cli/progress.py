"""A long job's progress (a recipe batch, an estate scan), drawn on a terminal (the library reports it)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

import attrs


@attrs.define
class TerminalProgress:
    """A one-line text progress bar for a batch, redrawn in place: ``[#####-----] 10/20 rows``.

    Use :meth:`for_stream` to get one only when the stream is a terminal.

    Attributes:
        stream: Where to draw (a terminal's stderr).
        minimum: Rows below which no bar is drawn (a short batch needs none).
        width: The bar's width in characters.
        noun: What is counted (``rows``, ``stores``).
    """

    stream: TextIO
    minimum: int = 10
    width: int = 30
    noun: str = "rows"
    _started: float = attrs.field(factory=time.perf_counter, init=False)

    @classmethod
    def for_stream(
        cls, stream: TextIO | None = None, *, noun: str = "rows"
    ) -> TerminalProgress | None:
        """A progress bar on ``stream`` (default stderr) if it is a terminal, else None."""
        stream = sys.stderr if stream is None else stream
        try:
            tty = stream.isatty()
        except (AttributeError, ValueError):
            tty = False
        return cls(stream, noun=noun) if tty else None

    def __call__(self, done: int, total: int) -> None:
        """Redraw the bar for ``done`` of ``total`` rows; end the line when all are done."""
        if total < self.minimum:
            return
        filled = self.width * done // total
        elapsed = time.perf_counter() - self._started
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r[{bar}] {done}/{total} {self.noun} {elapsed:.0f} s")
        if done == total:
            self.stream.write("\n")
        self.stream.flush()

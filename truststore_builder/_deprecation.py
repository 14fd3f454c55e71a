"""Old names kept for one release after a rename or a move, each warning where it is used.

The warning is Python's ``DeprecationWarning``, pointed at the caller's line, and names the
new spelling; docs/changelog.md lists every such name.
"""

from __future__ import annotations

import functools
import warnings
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["renamed_method", "warn_deprecated"]

_F = TypeVar("_F", bound="Callable[..., Any]")


def warn_deprecated(old: str, new: str, *, stacklevel: int = 3) -> None:
    """Warn that ``old`` is deprecated in favour of ``new`` (``stacklevel`` 3: our caller's caller)."""
    msg = f"{old} is deprecated and will be removed in the next release; use {new}"
    warnings.warn(msg, DeprecationWarning, stacklevel=stacklevel)


def renamed_method(new: _F, old_name: str) -> _F:
    """A method under its old name that warns, then does what ``new`` does.

    Args:
        new: The method under its new name (the function in the class body).
        old_name: The old name, for the message and the alias's ``__name__``.
    """

    @functools.wraps(new)
    def old(self: object, *args: object, **kwargs: object) -> object:
        owner = type(self).__name__
        warn_deprecated(f"{owner}.{old_name}()", f"{owner}.{new.__name__}()")
        return new(self, *args, **kwargs)

    old.__name__ = old_name
    old.__qualname__ = new.__qualname__.rsplit(".", 1)[0] + "." + old_name
    old.__doc__ = f"Deprecated: use :meth:`{new.__name__}` (this name goes in the next release)."
    return old  # type: ignore[return-value]

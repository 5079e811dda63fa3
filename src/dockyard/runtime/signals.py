"""Signal numbers and calls for the runtime, through the C module behind ``signal``.

``import signal`` builds its enums at import time (about 2 ms of a one-shot command's budget);
``_signal`` has the same functions without them. Names are Linux's (x86_64 and aarch64 agree).
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

SIGKILL = 9
SIGTERM = 15
NSIG: int = _signal.NSIG
NAMES = {
    "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6, "BUS": 7,
    "FPE": 8, "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14,
    "TERM": 15, "STKFLT": 16, "CHLD": 17, "CLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20,
    "TTIN": 21, "TTOU": 22, "URG": 23, "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27,
    "WINCH": 28, "IO": 29, "POLL": 29, "PWR": 30, "SYS": 31, "UNUSED": 31,
}  # fmt: skip
"""Signal numbers by name without "SIG"."""


def pidfd_send_signal(pidfd: int, number: int) -> None:
    """Signal the process a pidfd refers to (never a process that reused its pid)."""
    _signal.pidfd_send_signal(pidfd, number)


def block_all() -> list[int]:
    """Block every signal; returns the previous mask."""
    return sorted(_signal.pthread_sigmask(_signal.SIG_BLOCK, _signal.valid_signals()))


def set_mask(mask: Iterable[int]) -> None:
    _signal.pthread_sigmask(_signal.SIG_SETMASK, list(mask))


def reset() -> None:
    """Every disposition back to the default and an empty mask: ignored signals and the mask
    survive execve(2) (Python ignores SIGPIPE and SIGXFSZ), handlers do not."""
    for number in range(1, NSIG):
        if number in (SIGKILL, 19):
            continue
        try:
            if _signal.getsignal(number) is not _signal.SIG_DFL:
                _signal.signal(number, _signal.SIG_DFL)
        except (OSError, ValueError):
            continue
    _signal.pthread_sigmask(_signal.SIG_SETMASK, [])


def handle(numbers: Iterable[int], handler: Callable[[int, object], None]) -> None:
    """Install ``handler`` for each of ``numbers`` that may be caught."""
    for number in numbers:
        try:
            _signal.signal(number, handler)
        except (OSError, ValueError):
            continue

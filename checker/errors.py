"""The one root error of electkit and the exit codes every command shares."""

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3  # a bug in electkit itself
EXIT_VACUOUS = 4  # every invariant held, but a `sometimes` property was never witnessed
EXIT_INTERRUPTED = 130


class ElectkitError(Exception):
    """Bad usage or bad input: printed as one line, exit code 2."""


_interrupted = False


def interrupt(signum: int, frame: object) -> None:
    """The console's handler of Ctrl-C and SIGTERM: remember it, then raise KeyboardInterrupt.

    Remembered because Python drops an exception raised inside a finalizer (z3 frees its terms
    in ``__del__``): long-running loops ask :func:`interrupt_pending` and stop all the same.
    """
    global _interrupted
    _interrupted = True
    raise KeyboardInterrupt


def interrupt_pending() -> bool:
    """Whether Ctrl-C or SIGTERM arrived (even if its KeyboardInterrupt was swallowed)."""
    return _interrupted

"""The one root error of electkit and the exit codes every command shares."""

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3  # a bug in electkit itself
EXIT_VACUOUS = 4  # every invariant held, but a `sometimes` property was never witnessed
EXIT_INTERRUPTED = 130


class ElectkitError(Exception):
    """Bad usage or bad input: printed as one line, exit code 2."""

"""The app layer: the `imutrack` command. It parses the command line (:mod:`imutrack.cli.parser`), composes the
pipeline's stages (:mod:`imutrack.cli.commands`, :mod:`imutrack.cli.record`, :mod:`imutrack.cli.guide`) and shows
their results; no pipeline module imports anything from here.

Every :class:`~imutrack.errors.ImutrackError` is printed as one line without a traceback; warnings about recovered
problems (a torn last line, say) are printed as one line each.
"""

from __future__ import annotations

import sys
import warnings

from imutrack.cli.parser import PROFILE_NAMES, _axis_values_joined, build_parser
from imutrack.errors import ImutrackError, ImutrackWarning
from imutrack.text import printable

__all__ = ["PROFILE_NAMES", "build_parser", "main"]


def _stop_cleanly_on_sigterm():
    """A polite request to stop (SIGTERM: a system shutting down, a service manager) ends a command as Ctrl-C does:
    recordings are closed cleanly, with nothing lost beyond the last flush. Only the main thread can set it. Returns
    the handler it replaced (None when it set none)."""
    import signal
    import threading

    def stop(signum, frame):
        raise KeyboardInterrupt

    if hasattr(signal, "SIGTERM") and threading.current_thread() is threading.main_thread():
        return signal.signal(signal.SIGTERM, stop)
    return None


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code (0 ok, 1 error, 2 usage, 130 interrupted)."""
    parser = build_parser()
    args = parser.parse_args(_axis_values_joined(sys.argv[1:] if argv is None else argv))
    if args.command is None:
        parser.print_help()
        return 0
    from imutrack.cli import commands

    last = None  # the line that ends the run, after the warnings
    previous = _stop_cleanly_on_sigterm()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ImutrackWarning)
        try:
            code = commands.run(args)
        except ImutrackError as exc:
            code, last = 1, f"imutrack: error: {exc}"
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            code, last = 1, f"imutrack: error: {where}{exc.strerror or exc}"
        except KeyboardInterrupt:
            code, last = 130, "imutrack: interrupted"
        finally:
            if previous is not None:
                import signal

                signal.signal(signal.SIGTERM, previous)
    # Shown once the recording of warnings is over: shown inside it, a warning would be recorded again, into the
    # very list being shown (a phyphox file with a 1e308 acceleration grew the process to 24 GB that way).
    _print_warnings(caught)
    if last:
        print(printable(last), file=sys.stderr)
    return code


def _print_warnings(caught: list[warnings.WarningMessage]) -> None:
    for message in caught:
        if issubclass(message.category, ImutrackWarning):
            print(printable(f"imutrack: warning: {message.message}"), file=sys.stderr)
        else:
            warnings.showwarning(message.message, message.category, message.filename, message.lineno)


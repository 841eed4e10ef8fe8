"""One exception hierarchy for everything a user can cause or fix.

The CLI prints an :class:`ImutrackError` as a single line, without a traceback, so every message must say what went
wrong and where (file and line, device, argument) in words a user can act on.
"""


class ImutrackError(Exception):
    """Base class of all errors imutrack reports to a user."""


class InvalidSamplesError(ImutrackError, ValueError):
    """IMU sample arrays have the wrong shape, non-finite values or non-increasing times."""


class RecordingFormatError(ImutrackError, ValueError):
    """A recording file is malformed; the message names the file and line."""


class ImutrackWarning(UserWarning):
    """Something was recovered from but the user should know (e.g. a torn last line was ignored)."""

"""Shared frame facts: named sensor axes and standard gravity (see ``docs/frames.md``)."""

from __future__ import annotations

import numpy as np

from imutrack.errors import ImutrackError

GRAVITY_M_S2 = 9.80665  # standard gravity

AXES = ("+x", "-x", "+y", "-y", "+z", "-z")


def axis_vector(name: str) -> np.ndarray:
    """Unit vector of a sensor axis named "+x", "-x", "+y", "-y", "+z" or "-z"."""
    if name not in AXES:
        raise ImutrackError(f"a sensor axis must be one of {', '.join(AXES)}, got {name!r}")
    vector = np.zeros(3)
    vector["xyz".index(name[1])] = 1.0 if name[0] == "+" else -1.0
    return vector

# A movement (the turn into a hold, the return from it) starts when its angular speed first exceeds this fraction of
# its peak speed and ends when it falls below it again: the usual onset/offset convention of movement kinematics.
# The hold is the time between the end of the turn and the start of the return.
MOVEMENT_ONSET_FRACTION = 0.05

"""Half-open index intervals ``[start, end)`` over sample arrays."""

from __future__ import annotations

import numpy as np


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Index intervals ``[start, end)`` where the boolean ``mask`` is True, in order."""
    mask = np.asarray(mask, dtype=bool)
    if not len(mask):
        return []
    edges = (np.flatnonzero(mask[1:] != mask[:-1]) + 1).tolist()  # (one pass, no padded copies of an hour's mask)
    edges = ([0] if mask[0] else []) + edges + ([len(mask)] if mask[-1] else [])
    return list(zip(edges[::2], edges[1::2]))

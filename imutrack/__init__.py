"""imutrack: measure the seated trunk-twist exercise with a chest-worn IMU.

Data flows one way: source → recording → rests + orientation → trunk angles → holds → metrics → store →
report.
"""

__version__ = "0.1.0"

from imutrack.analysis import AnalysisParams, SessionAnalysis, analyze, holds_frame  # noqa: E402
from imutrack.errors import ImutrackError  # noqa: E402
from imutrack.samples import ImuSamples  # noqa: E402

__all__ = ["AnalysisParams", "ImuSamples", "ImutrackError", "SessionAnalysis", "__version__", "analyze",
           "holds_frame"]

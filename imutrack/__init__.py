"""imutrack: measure the seated trunk-twist exercise with a chest-worn IMU.

Data flows one way: source → recording → orientation → trunk angles → holds → metrics → store → report.
"""

from imutrack.errors import ImutrackError
from imutrack.samples import ImuSamples

__version__ = "0.1.0"

__all__ = ["ImuSamples", "ImutrackError", "__version__"]

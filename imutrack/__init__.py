"""imutrack: measure the seated trunk-twist exercise with a chest-worn IMU.

Data flows one way: source → recording → rests + orientation → trunk angles → holds → metrics → store →
report.

The names below are imported when first used, so ``imutrack --version`` and a command that needs no analysis do not
pay for scipy and vqf.
"""

__version__ = "0.1.0"

__all__ = ["AnalysisParams", "ImuSamples", "ImutrackError", "SessionAnalysis", "__version__", "analyze",
           "holds_frame"]

_HOMES = {
    "AnalysisParams": "imutrack.analysis",
    "SessionAnalysis": "imutrack.analysis",
    "analyze": "imutrack.analysis",
    "holds_frame": "imutrack.analysis",
    "ImutrackError": "imutrack.errors",
    "ImuSamples": "imutrack.samples",
}


def __getattr__(name: str):
    if name in _HOMES:
        from importlib import import_module

        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'imutrack' has no attribute {name!r}")

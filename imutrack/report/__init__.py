"""Figures and reports (the only stage that imports matplotlib): :mod:`~imutrack.report.plots` draws one session,
:mod:`~imutrack.report.progress_report` the progress report (HTML, PDF, CSV, PNG) from the store."""

SEAT_SHIFT_NOTE_DEG = 3.0  # a rest facing this far (°) from the start's neutral is pointed out (a shift on the seat?)

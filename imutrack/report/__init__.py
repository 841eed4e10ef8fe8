"""Figures and reports (the only stage that imports matplotlib)."""

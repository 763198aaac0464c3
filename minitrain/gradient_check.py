"""Moved to :mod:`minitrain.lab.gradient_check`; this name stays for old imports."""
from minitrain.lab.gradient_check import GradcheckRow, format_table, gradcheck  # noqa: F401

"""This process's resident memory from ``/proc/self/status`` (Linux): growth and peak growth.

A test or benchmark warms up (data loaded, kernels compiled), starts a ``PeakRss``
(which resets the kernel's peak to the current RSS) and reads how far the peak
rose while its work ran.
"""

from __future__ import annotations

__all__ = ["PeakRss", "status_kib"]


def status_kib(field: str) -> int:
    """A ``/proc/self/status`` field given in KiB (``VmRSS``, ``VmHWM``...)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


class PeakRss:
    """Resident memory growth from the moment it is created (the peak is reset then)."""

    def __init__(self) -> None:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # VmHWM := VmRSS
        self.base_kib = status_kib("VmRSS")

    def peak_mib(self) -> float:
        """How far the peak (VmHWM) rose above the start."""
        return (status_kib("VmHWM") - self.base_kib) / 1024

    def left_mib(self) -> float:
        """How far RSS is above the start now."""
        return (status_kib("VmRSS") - self.base_kib) / 1024

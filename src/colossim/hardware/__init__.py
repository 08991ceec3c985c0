"""Accelerator specs from the catalog (peak rates, memory, links, power)."""

from colossim.hardware.gpu import GPU, Precision, gpu, gpu_ids

__all__ = ["GPU", "Precision", "gpu", "gpu_ids"]

"""What is trained: the transformer (dense/MoE, GQA, MLA), the training run, and the
software stack that runs it."""

from colossim.workload.model import MLA, TransformerSpec, model_ids, preset, spec_from_dict
from colossim.workload.training import Training

__all__ = ["MLA", "Training", "TransformerSpec", "model_ids", "preset", "spec_from_dict"]

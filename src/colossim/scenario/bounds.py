"""Bounds on scenario inputs (shared by every section that takes them)."""

# Bounds on inputs that scale the work or that no training run comes near: a value
# beyond them is a typo (or a fuzzer), and is refused with the field named instead of
# running for minutes or printing absurd figures. Each is orders of magnitude beyond
# today's largest systems and runs (1M GPUs, 72-GPU NVLink domains, 15T-token runs with
# 16M-token batches at 8k-128k sequence length).
MAX_GPUS = 2**27  # 134M GPUs
MAX_GPUS_PER_NODE = 1_024
MAX_SCALEUP_DOMAIN = 2**16
MAX_TOKENS = 1e18
MIN_TOKENS = 1e3
MAX_SEQ_LEN = 2**24  # 16.8M tokens per sequence
MAX_GLOBAL_BATCH = 2**24  # sequences per step
MAX_GLOBAL_BATCH_TOKENS = 2**40
# Transformer shapes: far above any published model (Llama 3 405B: 126 layers, width
# 16,384, 128 heads; vocabularies of 256k; MoE up to 256 experts).
MAX_LAYERS = 10_000
MAX_WIDTH = 2**20
MAX_HEADS = 2**14
MAX_VOCAB = 2**24
MAX_EXPERTS = 2**16
# MoE load imbalance (busiest EP rank / mean): 16x the mean is a collapsed router, not a
# training run (balanced routers keep it within tens of percent).
MAX_MOE_IMBALANCE = 16.0
# Scale-out line rate per GPU: 125x today's 800 Gb/s NICs.
MAX_NIC_GBIT_PER_S = 1e5

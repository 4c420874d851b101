"""The enumerated config keys that select no code of another layer: each one `Choices` table,
checked with the other values when a config is loaded (video3d.config.checks). The keys that
select a builder (a stem, a decoder, an optimiser, ...) keep their table beside that builder
and are checked after loading by video3d.known_names."""

from __future__ import annotations

from video3d.choices import Choices
from video3d.utils.precision import PRECISIONS, TEST_PRECISIONS  # their table sits beside the rule

TEMPORAL_CONVS = Choices("RESNET.TEMPORAL_CONV", {
    "a": "temporal kernel on the bottleneck's first 1x1 conv (PySlowFast)",
    "b": "temporal kernel on the 3x3 conv",
})
CLIP_SAMPLINGS = Choices("TEST.CLIP_SAMPLING", {
    "spread": "clips spread evenly over the video, first and last included",
    "pyslowfast": "PySlowFast's uniform clip starts",
})
COMPILE_MODES = Choices("TRAIN.COMPILE_MODE", dict.fromkeys(
    ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"), "torch.compile mode"))
NORM_TYPES = Choices("BN.NORM_TYPE", {"batchnorm": "per-process BatchNorm", "sync_batchnorm": "SyncBatchNorm"})
AUG_TYPES = Choices("AUG.TYPE", {"randaug": "RandAugment", "augmix": "AugMix"})
DIST_BACKENDS = Choices("DIST_BACKEND", {"auto": "nccl on GPU, gloo on CPU", "nccl": "nccl", "gloo": "gloo"})
FLOW_ALGORITHMS = Choices("DATA.FLOW_ALGO", {
    "tvl1": "TV-L1 (OpenCV's defaults)", "dis": "OpenCV DIS", "farneback": "OpenCV Farneback"})
DECODE_DEVICES = Choices("DATA.DECODE_DEVICE", {
    "cpu": "decode on the CPU (loader workers)",
    "cuda": "decode on the GPU (NVDEC) with DATA.DECODING_BACKEND torchcodec, in the main process"})
SYNTHMOTION_FLOW_ALGOS = Choices("SYNTHMOTION.FLOW_ALGO", {"": "no flow", **{name: "" for name in FLOW_ALGORITHMS}})

TABLES = (TEMPORAL_CONVS, CLIP_SAMPLINGS, PRECISIONS, TEST_PRECISIONS, COMPILE_MODES, NORM_TYPES, AUG_TYPES, DIST_BACKENDS,
          FLOW_ALGORITHMS, SYNTHMOTION_FLOW_ALGOS, DECODE_DEVICES)

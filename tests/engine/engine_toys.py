"""Tiny stand-ins for the models and data layers, injected into the trainer through
`TrainComponents`: an in-memory clip dataset whose sample i of epoch e is a pure function of
(seed, e, i), loaded through the real `ResumableSampler` / `set_loader_epoch`, and a
three-layer network with optional BN and dropout. Also used by `engine_toy_run.py`."""

from __future__ import annotations

import os

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from video3d.config import load_config
from video3d.data import ResumableSampler, set_loader_epoch
from video3d.data.loader import per_process_batch_size
from video3d.data.samplers import MultigridBatchSampler
from video3d.engine.trainer import TrainComponents
from video3d.models import training_logits
from video3d.utils.distributed import get_rank, get_world_size

SPLIT_SIZES = {"train": 24, "val": 8}
CLIP_SHAPE = (3, 4, 8, 8)
TOY_MEAN, TOY_STD = 0.45 * 255, 0.225 * 255  # DATA.MEAN / DATA.STD's defaults in uint8 units

# A toy run: CPU, no workers, 6 steps of 4 clips per epoch, a json_stats line per step.
TOY_OPTS = [
    "NUM_GPUS", "0", "TEST.ENABLE", "False", "DATA_LOADER.NUM_WORKERS", "0", "MODEL.NUM_CLASSES", "4",
    "MODEL.DROPOUT_RATE", "0.0", "TRAIN.BATCH_SIZE", "4", "SOLVER.BASE_BATCH_SIZE", "4", "SOLVER.BASE_LR", "0.1",
    "SOLVER.LR_POLICY", "cosine", "SOLVER.MAX_EPOCH", "2", "SOLVER.WARMUP_EPOCHS", "0.0", "LOG_PERIOD", "1",
    "MODEL.MODEL_NAME", "toy",
]


DEMO = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                    "configs", "demo", "synthmotion_iresnet3d_ffc.yaml")


def demo_opts(data_dir: str, output_dir: str, *extra: str) -> list[str]:
    """Overrides of the demo config for tiny SynthMotion in `data_dir`: no workers, small test."""
    return ["DATA.PATH_TO_DATA_DIR", data_dir, "DATA.PATH_PREFIX", data_dir,
            "DATA.CLASS_NAMES_FILE", os.path.join(data_dir, "classnames.txt"), "OUTPUT_DIR", output_dir,
            "DATA_LOADER.NUM_WORKERS", "0", "TRAIN.BATCH_SIZE", "4", "SOLVER.BASE_BATCH_SIZE", "4",
            "TEST.NUM_ENSEMBLE_VIEWS", "2", "TEST.NUM_SPATIAL_CROPS", "1", "SYNTHMOTION.ENABLE", "False", *extra]


def toy_cfg(output_dir: str, *opts: str):
    return load_config(None, [*TOY_OPTS, "OUTPUT_DIR", output_dir, *opts])


class ToyClips(Dataset):
    """Clip of class (index % K): a per-channel class offset plus noise drawn from (seed, epoch, index)."""

    def __init__(self, size: int, num_classes: int, seed: int):
        self.size, self.num_classes, self.seed, self.epoch = size, num_classes, seed, 0
        # A per-channel offset per class: survives the toy network's global average pooling.
        offsets = torch.randn((num_classes, CLIP_SHAPE[0]), generator=torch.Generator().manual_seed(1234))
        self.patterns = offsets[:, :, None, None, None].expand(-1, *CLIP_SHAPE)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key) -> dict:
        epoch, index = key[:2] if isinstance(key, tuple) else (self.epoch, key)
        noise_gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch * 10_007 + index)
        label = index % self.num_classes
        video = self.patterns[label] + 0.8 * torch.randn(CLIP_SHAPE, generator=noise_gen)
        if isinstance(key, tuple) and len(key) > 2:  # a multigrid shape: (frames, rate, crop, ...)
            frames, _, crop = key[2][:3]
            video = video[:, :frames, :crop, :crop]
        # uint8, as real loaders give clips: the trainer's normalisation (the default DATA.MEAN /
        # DATA.STD) maps it back to about the float clip.
        video = (video * TOY_STD + TOY_MEAN).round().clamp(0, 255).to(torch.uint8)
        return {"video": video, "label": label, "index": index, "video_id": f"toy{index}"}


class ToyNet(nn.Module):
    def __init__(self, num_classes: int, dropout: float, batchnorm: bool):
        super().__init__()
        self.conv = nn.Conv3d(CLIP_SHAPE[0], 6, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm3d(6) if batchnorm else nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(6, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.norm(self.conv(x))).mean(dim=(2, 3, 4))
        return self.fc(self.dropout(x))


def build_toy_model(cfg) -> nn.Module:
    return ToyNet(cfg.MODEL.NUM_CLASSES, cfg.MODEL.DROPOUT_RATE, batchnorm=cfg.MODEL.MODEL_NAME == "toy_bn")


def build_toy_loader(cfg, split: str, training: bool, schedule=None) -> DataLoader:
    dataset = ToyClips(SPLIT_SIZES[split], cfg.MODEL.NUM_CLASSES, cfg.RNG_SEED)
    sampler = ResumableSampler(len(dataset), shuffle=training, seed=cfg.RNG_SEED,
                               num_replicas=get_world_size(), rank=get_rank())
    # TRAIN.BATCH_SIZE clips per optimiser step: split over processes and accumulated micro-batches.
    batch = per_process_batch_size(cfg.TRAIN.BATCH_SIZE, get_world_size() * cfg.TRAIN.ACCUM_STEPS)
    if training and schedule is not None and schedule.cycles:
        return DataLoader(dataset, batch_sampler=MultigridBatchSampler(sampler, schedule, batch), num_workers=0)
    return DataLoader(dataset, batch_size=batch, sampler=sampler, num_workers=0, drop_last=training)


def load_toy_weights(model: nn.Module, state_dict: dict, inflate_method=None, allow_partial=False) -> dict:
    model.load_state_dict(state_dict)
    return {"loaded": sorted(state_dict), "inflate_method": inflate_method}


def toy_components() -> TrainComponents:
    return TrainComponents(build_toy_model, build_toy_loader, set_loader_epoch, training_logits, load_toy_weights)

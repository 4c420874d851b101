"""Training and validation meters: windowed medians per LOG_PERIOD, epoch totals, memory, ETA."""

from __future__ import annotations

import datetime
import os
import resource

import torch

from video3d.utils.distributed import is_distributed


def topk_correct(logits: torch.Tensor, labels: torch.Tensor, ks: tuple[int, ...] = (1, 5)) -> list[int]:
    """Number of samples whose label is among the top-k logits, for each k (k capped at K)."""
    top = logits.topk(min(max(ks), logits.shape[-1]), dim=-1).indices
    hits = top == labels.view(-1, 1)
    return [int(hits[:, : min(k, logits.shape[-1])].any(dim=1).sum()) for k in ks]


def all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    """Sum `values` over all processes (identity for a single process)."""
    if not is_distributed():
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    torch.distributed.all_reduce(tensor)
    return tensor.tolist()


def format_eta(seconds: float) -> str:
    """H:MM:SS of a (non-negative) number of seconds."""
    return str(datetime.timedelta(seconds=int(max(seconds, 0))))


def memory_stats(device: torch.device) -> dict:
    """RAM in use / total (GB) and the peak allocated GPU memory (GB; "0.00G" on the CPU), PySlowFast style."""
    stats = {}
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            info = {line.split(":")[0]: int(line.split()[1]) for line in handle}
        total = info["MemTotal"] / 1024**2
        used = total - info.get("MemAvailable", info["MemFree"]) / 1024**2
        stats["RAM"] = f"{used:.2f}/{total:.2f}G"
    except (OSError, KeyError, ValueError, IndexError):
        peak_rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        stats["RAM"] = f"{peak_rss_kb / 1024**2:.2f}G (peak rss, pid {os.getpid()})"
    gpu_bytes = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else 0
    stats["gpu_mem"] = f"{gpu_bytes / 1024**3:.2f}G"
    return stats


def step_scalars(loss: float, samples: float, top1_correct: float | None, top5_correct: float | None,
                 dt_data: float, dt_net: float) -> dict[str, float]:
    """One step's per-step scalars for the event store's windows: loss, seconds, errors in
    percent (absent under mixup)."""
    values = {"loss": loss, "dt_data": dt_data, "dt_net": dt_net, "dt": dt_data + dt_net}
    if top1_correct is not None:
        values["top1_err"] = 100.0 * (1 - top1_correct / samples)
        values["top5_err"] = 100.0 * (1 - top5_correct / samples)
    return values


class TrainMeter:
    """Epoch totals of the per-iteration values (already all-reduced): averages weighted by batch
    size and mean seconds per step. The windowed medians live in the event store."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        """Start a new epoch: empty totals."""
        self.loss_sum = 0.0
        self.top1_wrong = 0.0
        self.top5_wrong = 0.0
        self.samples = 0.0
        self.topk_samples = 0.0
        self.iterations = 0
        self.time_sum = 0.0
        self.data_time_sum = 0.0

    def update(self, loss: float, samples: float, top1_correct: float | None, top5_correct: float | None,
               dt_data: float, dt_net: float) -> None:
        """Add one step: its loss, hits (None under mixup) and data / network seconds."""
        self.loss_sum += loss * samples
        self.samples += samples
        self.iterations += 1
        self.time_sum += dt_data + dt_net
        self.data_time_sum += dt_data
        if top1_correct is not None:
            self.top1_wrong += samples - top1_correct
            self.top5_wrong += samples - top5_correct
            self.topk_samples += samples

    def seconds_per_iteration(self) -> float:
        """Mean seconds per step this epoch."""
        return self.time_sum / self.iterations if self.iterations else 0.0

    def data_seconds_per_iteration(self) -> float:
        """Mean data-loading wait per iteration of this epoch (PySlowFast's dt_data)."""
        return self.data_time_sum / self.iterations if self.iterations else 0.0

    def epoch_stats(self) -> dict:
        """Epoch averages weighted by batch size (errors in percent; None under mixup)."""
        stats = {"loss": self.loss_sum / self.samples if self.samples else None,
                 "top1_err": None, "top5_err": None}
        if self.topk_samples:
            stats["top1_err"] = 100.0 * self.top1_wrong / self.topk_samples
            stats["top5_err"] = 100.0 * self.top5_wrong / self.topk_samples
        return stats

    def state_dict(self) -> dict:
        """Epoch totals, saved in mid-epoch checkpoints so a resumed epoch reports full numbers."""
        return {"loss_sum": self.loss_sum, "top1_wrong": self.top1_wrong, "top5_wrong": self.top5_wrong,
                "samples": self.samples, "topk_samples": self.topk_samples}

    def load_state_dict(self, state: dict) -> None:
        """Restore the epoch totals saved mid-epoch (`state_dict`)."""
        for key, value in state.items():
            setattr(self, key, float(value))

"""One-command GPU check: what the CPU test suite cannot run, in a few minutes on one GPU.

    python benchmarks/gpu_check.py [--steps 10] [--batch 8] [--workers 8] [--out gpu_check.json]
    python benchmarks/gpu_check.py --dry-run          # the same code paths on the CPU, tiny shapes

Checks (each pass / fail / skip with a reason):
  amp_bf16            training steps under autocast(bfloat16): finite loss and gradients, weights move
  amp_fp16_scaler     autocast(float16) with GradScaler: finite loss, scale finite, scaler state round-trips
  ddp_syncbn          a 1-process group (NCCL on GPU; gloo in the dry run), SyncBatchNorm + DDP step
                      gives the gradients of the plain model (the dry run keeps BatchNorm: SyncBN needs CUDA)
  channels_last       TRAIN.CHANNELS_LAST: same logits and gradients as the default layout
  compile             TRAIN.COMPILE: same logits as eager (inductor on GPU; the dry run uses the eager
                      backend so it stays fast), compile time reported
  test_normalisation  the 30-view test's uint8 views normalised on the device chunk by chunk give
                      the logits of views normalised on the CPU
  tvl1_cuda           video3d.flow's PyTorch TV-L1 on the device: a shifted frame gives the shift,
                      and the CPU's flow (skipped where video3d.flow.tvl1 does not exist)
  train_clips_s       training clips/s of iresnet3d_50 (8x224, AMP bf16 on GPU) on synthetic tensors
                      and through the real loader on SynthMotion, against PyTorchVideo's
                      slow_r50-shaped create_resnet on the same tensors (the ratio is printed)
  loader_feed         iresnet3d_50 8x224 training clips/s fed by the real loader from the
                      bench_data_scale corpus (568x320 H.264, 8x8 clips), against synthetic tensors
                      (the ratio shows how starved the GPU is): PyAV on --workers CPU workers, and
                      torchcodec decoding on the GPU (NVDEC, DATA.DECODE_DEVICE cuda, no workers;
                      skipped where torchcodec or FFmpeg's libraries are missing)

Prints one table and one `gpu_check:` JSON line; exit 1 if any check failed, 0 otherwise.
Without a CUDA device (and no --dry-run) it prints one line and exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib.util
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import video3d  # noqa: E402,F401  (installs the torchvision alias pytorchvideo needs)
from video3d.config import load_config  # noqa: E402
from video3d.models import build_model, training_logits  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["RESNET.STEM_WIDTH", "8", "RESNET.WIDTH_PER_GROUP", "4", "RESNET.STAGE_BLOCKS", "[1, 1, 1, 1]",
        "MODEL.NUM_CLASSES", "8", "MODEL.DROPOUT_RATE", "0.0"]


class Skip(Exception):
    """A check that does not apply here; the message says why."""


class Context:
    """What every check needs: device, shapes, and whether this is the CPU dry run."""

    def __init__(self, args: argparse.Namespace):
        self.dry = args.dry_run
        self.device = torch.device("cpu" if self.dry else "cuda")
        self.steps = args.steps
        self.batch = args.batch
        self.workers = args.workers
        self.frames, self.size = (4, 32) if self.dry else (8, 224)
        self.work_dir = args.work_dir

    def cfg(self, name: str = "iresnet3d_50", *opts: str):
        extra = list(TINY) if self.dry else []
        return load_config(os.path.join(ROOT, "configs", "kinetics", f"{name}.yaml"), [*extra, *opts])

    def model(self, *opts: str) -> nn.Module:
        torch.manual_seed(0)
        return build_model(self.cfg("iresnet3d_50", *opts)).to(self.device)

    def clips(self, batch: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        generator = torch.Generator().manual_seed(0)
        batch = batch or self.batch
        clip = torch.randn(batch, 3, self.frames, self.size, self.size, generator=generator)
        labels = torch.randint(0, 8, (batch,), generator=generator)
        return clip.to(self.device), labels.to(self.device)

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()


def _loss(model: nn.Module, clip: torch.Tensor, labels: torch.Tensor, cfg) -> torch.Tensor:
    logits = training_logits(model(clip), cfg).float()
    return nn.functional.cross_entropy(logits, labels % logits.shape[-1])


def _grads_finite(model: nn.Module) -> bool:
    return all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def check_amp_bf16(ctx: Context) -> str:
    model, cfg = ctx.model(), ctx.cfg()
    before = next(model.parameters()).detach().clone()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    clip, labels = ctx.clips()
    for _ in range(2):
        with torch.autocast(ctx.device.type, dtype=torch.bfloat16):
            loss = _loss(model, clip, labels, cfg)
        loss.backward()
        if not torch.isfinite(loss) or not _grads_finite(model):
            raise AssertionError(f"non-finite loss {loss.item()} or gradients under bfloat16 autocast")
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    if torch.equal(before, next(model.parameters()).detach()):
        raise AssertionError("weights did not change after two bfloat16 steps")
    return f"loss {loss.item():.4f}"


def check_amp_fp16_scaler(ctx: Context) -> str:
    model, cfg = ctx.model(), ctx.cfg()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    scaler = torch.amp.GradScaler(ctx.device.type)
    clip, labels = ctx.clips()
    for _ in range(3):
        with torch.autocast(ctx.device.type, dtype=torch.float16):
            loss = _loss(model, clip, labels, cfg)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        if not torch.isfinite(loss):
            raise AssertionError(f"float16 loss is {loss.item()}")
    state = scaler.state_dict()
    restored = torch.amp.GradScaler(ctx.device.type)
    restored.load_state_dict(state)
    if restored.get_scale() != scaler.get_scale() or not torch.isfinite(torch.tensor(scaler.get_scale())):
        raise AssertionError(f"scaler state did not round-trip (scale {scaler.get_scale()})")
    return f"loss {loss.item():.4f}, scale {scaler.get_scale():g}"


def check_ddp_syncbn(ctx: Context) -> str:
    import torch.distributed as dist

    backend = "gloo" if ctx.dry else "nccl"
    if not dist.is_available() or (backend == "nccl" and not dist.is_nccl_available()):
        raise AssertionError(f"torch.distributed with {backend} is not available in this build")
    model, cfg = ctx.model(), ctx.cfg()
    reference = copy.deepcopy(model)
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(29500 + os.getpid() % 1000))
    dist.init_process_group(backend, rank=0, world_size=1)
    try:
        if ctx.device.type == "cuda":
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
            if not any(isinstance(m, nn.SyncBatchNorm) for m in model.modules()):
                raise AssertionError("convert_sync_batchnorm left no SyncBatchNorm")
        ddp = nn.parallel.DistributedDataParallel(
            model, device_ids=[ctx.device.index or 0] if ctx.device.type == "cuda" else None)
        clip, labels = ctx.clips()
        _loss(ddp, clip, labels, cfg).backward()
        _loss(reference, clip, labels, cfg).backward()
        worst = max(float((a.grad - b.grad).abs().max()) for a, b in
                    zip(ddp.module.parameters(), reference.parameters(), strict=True))
        if worst > 1e-3:
            raise AssertionError(f"DDP gradients differ from the plain model's by {worst:.2e}")
    finally:
        dist.destroy_process_group()
    kind = "SyncBatchNorm" if ctx.device.type == "cuda" else "BatchNorm (SyncBN needs CUDA)"
    return f"{backend}, {kind}, max gradient difference {worst:.1e}"


def check_channels_last(ctx: Context) -> str:
    from video3d.engine.fast_step import prepare_batch, prepare_training_model

    cfg = ctx.cfg("iresnet3d_50", "TRAIN.CHANNELS_LAST", "True")
    plain = ctx.model()
    fast = prepare_training_model(copy.deepcopy(plain), cfg, ctx.device)
    clip, labels = ctx.clips()
    plain.eval()
    fast.eval()
    with torch.no_grad():
        worst = float((plain(clip) - fast(prepare_batch(clip, cfg))).abs().max())
    if worst > 1e-2:
        raise AssertionError(f"channels_last logits differ by {worst:.2e}")
    fast.train()
    _loss(fast, prepare_batch(clip, cfg), labels, cfg).backward()
    if not _grads_finite(fast):
        raise AssertionError("non-finite channels_last gradients")
    return f"max logit difference {worst:.1e}"


def check_compile(ctx: Context) -> str:
    from video3d.engine.fast_step import compile_problem

    problem = compile_problem(ctx.device)
    if problem and not ctx.dry:
        raise AssertionError(f"TRAIN.COMPILE cannot work here: {problem}")
    plain = ctx.model().eval()
    compiled = torch.compile(copy.deepcopy(plain), backend="eager" if ctx.dry else "inductor")
    clip, _ = ctx.clips()
    start = time.perf_counter()
    with torch.no_grad():
        out = compiled(clip)
        ctx.sync()
        seconds = time.perf_counter() - start
        worst = float((plain(clip) - out).abs().max())
    if worst > 1e-2:
        raise AssertionError(f"compiled logits differ by {worst:.2e}")
    backend = "eager backend (dry run)" if ctx.dry else "inductor"
    return f"{backend}: first call {seconds:.1f} s, max logit difference {worst:.1e}"


def _synthmotion(ctx: Context, num_train: int, num_val: int) -> str:
    from data_prep.synthetic import generate

    root = os.path.join(ctx.work_dir, "synthmotion")
    if not os.path.exists(os.path.join(root, "val.csv")):
        generate(root, num_train=num_train, num_val=num_val, seed=0, size=96, frames=32 if ctx.dry else 60)
    return root


def _synthmotion_cfg(ctx: Context, root: str, *opts: str):
    size = ctx.size
    return ctx.cfg("iresnet3d_50", "DATA.PATH_TO_DATA_DIR", root, "DATA.PATH_PREFIX", root,
                   "MODEL.NUM_CLASSES", "8", "DATA.NUM_FRAMES", str(ctx.frames), "DATA.SAMPLING_RATE", "2",
                   "DATA.TRAIN_JITTER_SCALES", f"[{size}, {size * 5 // 4}]", "DATA.TRAIN_CROP_SIZE", str(size),
                   "DATA.TEST_CROP_SIZE", str(size), "DATA_LOADER.NUM_WORKERS", str(ctx.workers),
                   "TRAIN.BATCH_SIZE", str(ctx.batch), *opts)


def check_test_normalisation(ctx: Context) -> str:
    from video3d.data import build_multiview_dataset
    from video3d.data.transforms import Normalizer
    from video3d.evaluation.evaluator import forward_views

    root = _synthmotion(ctx, 8, 2)
    cfg = _synthmotion_cfg(ctx, root, "TEST.NUM_ENSEMBLE_VIEWS", "10", "TEST.NUM_SPATIAL_CROPS", "3")
    dataset = build_multiview_dataset(cfg, "val")
    normalize = Normalizer.from_cfg(cfg).views
    item = dataset[0]
    if item["views"] is None or item["views"].dtype != torch.uint8 or len(item["views"]) != 30:
        raise AssertionError("the test dataset did not give 30 uint8 views")
    model = ctx.model("MODEL.NUM_CLASSES", "8").eval()
    with torch.inference_mode():
        (_, on_device), = list(forward_views(model, [item], 7, ctx.device, False, normalize))
        reference = model(normalize(item["views"]).to(ctx.device)).float().cpu()
    worst = float((on_device - reference).abs().max())
    if worst > 1e-3:
        raise AssertionError(f"device-normalised views give logits {worst:.2e} away from CPU-normalised ones")
    return f"30 views in chunks of 7 on {ctx.device.type}, max logit difference {worst:.1e}"


def check_tvl1(ctx: Context) -> str:
    if importlib.util.find_spec("video3d.flow") is None or importlib.util.find_spec("video3d.flow.tvl1") is None:
        raise Skip("video3d.flow.tvl1 is not in this checkout")
    from video3d.flow.tvl1 import TVL1

    generator = torch.Generator().manual_seed(0)
    base = nn.functional.avg_pool2d(torch.rand(1, 1, 72, 96, generator=generator), 5, 1, 2)[0, 0] * 255
    first, second = base[:, 2:-2], base[:, :-4]  # content moves 2 px to the right
    flows = {}
    for device in dict.fromkeys(("cpu", ctx.device.type)):  # once in the dry run
        flows[device] = TVL1(compile=False)(first.to(device), second.to(device)).float().cpu()
    inner = flows[ctx.device.type][..., 8:-8, 8:-8]
    mean_x = float(inner[0].mean())
    if abs(mean_x - 2.0) > 0.5:
        raise AssertionError(f"a 2-pixel shift gave a mean flow of {mean_x:.2f} px")
    difference = float((flows["cpu"] - flows[ctx.device.type]).abs().mean())
    if difference > 0.05:
        raise AssertionError(f"device flow differs from the CPU's by {difference:.3f} px on average")
    return f"mean x flow {mean_x:.2f} px (shift 2), mean |device - cpu| {difference:.3f} px"


def _clips_per_second(model: nn.Module, batches: Callable[[], tuple[torch.Tensor, torch.Tensor]], steps: int,
                      ctx: Context, autocast: bool) -> float:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    total, clips = 0.0, 0
    for step in range(steps + 1):  # step 0 warms up (cuDNN autotuning, allocator)
        start = time.perf_counter()
        clip, labels = batches()
        cast = torch.autocast(ctx.device.type, dtype=torch.bfloat16) if autocast else contextlib.nullcontext()
        with cast:
            outputs = model(clip)
            logits = outputs.mean(dim=1) if outputs.dim() == 3 else outputs
            loss = nn.functional.cross_entropy(logits.float(), labels % logits.shape[-1])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        ctx.sync()
        if step:
            total += time.perf_counter() - start
            clips += len(clip)
    return clips / total


def check_train_clips_s(ctx: Context) -> str:
    from bench_models import build_peer

    from video3d.data import build_loader, set_loader_epoch
    from video3d.data.transforms import Normalizer

    autocast = not ctx.dry
    ours = ctx.model()
    clip, labels = ctx.clips()
    synthetic = _clips_per_second(ours, lambda: (clip, labels), ctx.steps, ctx, autocast)
    torch.manual_seed(0)
    peer = (build_peer() if not ctx.dry else build_model(ctx.cfg("resnet3d_50"))).to(ctx.device)
    peer_rate = _clips_per_second(peer, lambda: (clip, labels), ctx.steps, ctx, autocast)
    root = _synthmotion(ctx, max(ctx.batch * (ctx.steps + 1), 16), 2)
    loader = build_loader(_synthmotion_cfg(ctx, root), "train", True)
    normalize = Normalizer.from_cfg(_synthmotion_cfg(ctx, root)).views  # uint8 batches, normalised on the device
    set_loader_epoch(loader, 0)
    batches = iter(loader)

    def next_batch() -> tuple[torch.Tensor, torch.Tensor]:
        batch = next(batches)
        return normalize(batch["video"].to(ctx.device, non_blocking=True)), batch["label"].to(ctx.device)

    steps = min(ctx.steps, len(loader) - 1)
    loaded = _clips_per_second(ours, next_batch, steps, ctx, autocast)
    peer_name = "pytorchvideo slow_r50-shaped" if not ctx.dry else "resnet3d_50 (dry run: tiny stand-in)"
    return (f"iresnet3d_50 {ctx.frames}x{ctx.size}: {synthetic:.1f} clips/s synthetic, {loaded:.1f} through the "
            f"SynthMotion loader ({ctx.workers} workers); {peer_name} {peer_rate:.1f} clips/s "
            f"(ours / peer {synthetic / peer_rate:.2f}x)")


def check_loader_feed(ctx: Context) -> str:
    from bench_data_scale import make_list, make_videos, train_cfg

    from video3d.data import build_loader, set_loader_epoch
    from video3d.data.torchcodec_source import video_decoder_class
    from video3d.data.transforms import Normalizer
    from video3d.errors import ConfigError

    root = os.path.join(ctx.work_dir, "rehearsal")
    size = (170, 96) if ctx.dry else (568, 320)
    videos = make_videos(os.path.join(root, "videos"), 4 if ctx.dry else 16, 2.0 if ctx.dry else 10.0, *size, seed=0)
    list_dir = make_list(root, "gpu_feed", videos, ctx.batch * (ctx.steps + 2))
    autocast = not ctx.dry
    model = ctx.model()
    clip, labels = ctx.clips()
    synthetic = _clips_per_second(model, lambda: (clip, labels), ctx.steps, ctx, autocast)
    feeds = {"pyav on the CPU": ("pyav", "cpu", ctx.workers),
             "torchcodec on the GPU": ("torchcodec", "cpu" if ctx.dry else "cuda", 0)}
    parts = [f"iresnet3d_50 {ctx.frames}x{ctx.size}: synthetic {synthetic:.1f} clips/s"]
    for name, (backend, device, workers) in feeds.items():
        if backend == "torchcodec":
            try:
                video_decoder_class()
            except ConfigError as error:
                parts.append(f"{name}: skipped ({str(error).split(':')[0]})")
                continue
        cfg = train_cfg(list_dir, "", (ctx.frames, 8), ctx.batch, workers, backend, crop=ctx.size,
                        jitter=(ctx.size, ctx.size * 5 // 4))
        cfg.DATA.DECODE_DEVICE = device
        loader = build_loader(cfg, "train", True)
        normalize = Normalizer.from_cfg(cfg).views
        set_loader_epoch(loader, 0)
        batches = iter(loader)

        def next_batch(batches=batches, normalize=normalize) -> tuple[torch.Tensor, torch.Tensor]:
            batch = next(batches)
            return normalize(batch["video"].to(ctx.device, non_blocking=True)), batch["label"].to(ctx.device)

        rate = _clips_per_second(model, next_batch, min(ctx.steps, len(loader) - 1), ctx, autocast)
        parts.append(f"{name} ({workers} workers): {rate:.1f} clips/s ({rate / synthetic:.2f} of synthetic)")
    return "; ".join(parts)


CHECKS: list[tuple[str, Callable[[Context], str]]] = [
    ("amp_bf16", check_amp_bf16),
    ("amp_fp16_scaler", check_amp_fp16_scaler),
    ("ddp_syncbn", check_ddp_syncbn),
    ("channels_last", check_channels_last),
    ("compile", check_compile),
    ("test_normalisation", check_test_normalisation),
    ("tvl1_cuda", check_tvl1),
    ("train_clips_s", check_train_clips_s),
    ("loader_feed", check_loader_feed),
]


def run_checks(ctx: Context, names: list[str] | None = None) -> list[dict]:
    results = []
    for name, check in CHECKS:
        if names and name not in names:
            continue
        start = time.perf_counter()
        try:
            status, detail = "pass", check(ctx)
        except Skip as reason:
            status, detail = "skip", str(reason)
        except Exception as error:  # a failed check is reported, the others still run
            status, detail = "fail", f"{type(error).__name__}: {error}".splitlines()[0]
            traceback.print_exc(file=sys.stderr)
        results.append({"check": name, "status": status, "seconds": round(time.perf_counter() - start, 1),
                        "detail": detail})
    return results


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="run every check on the CPU with tiny shapes")
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per throughput figure")
    parser.add_argument("--batch", type=int, default=8, help="clips per training step")
    parser.add_argument("--workers", type=int, default=8, help="loader workers of the SynthMotion figure")
    parser.add_argument("--checks", default="", help="comma-separated subset of: " + ", ".join(n for n, _ in CHECKS))
    parser.add_argument("--work-dir", default="", help="where SynthMotion is generated (default: a temp folder)")
    parser.add_argument("--out", default="", help="also write the JSON results to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if not args.dry_run and not torch.cuda.is_available():
        print("gpu_check: skipped, no CUDA device (torch.cuda.is_available() is False); --dry-run runs it on the CPU")
        return 0
    if args.dry_run:
        args.steps, args.batch, args.workers = min(args.steps, 2), min(args.batch, 2), min(args.workers, 1)
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as scratch:
        args.work_dir = args.work_dir or scratch
        ctx = Context(args)
        results = run_checks(ctx, [n for n in args.checks.split(",") if n])
    device = "cpu (dry run)" if args.dry_run else torch.cuda.get_device_name(0)
    print(f"gpu_check on {device}, torch {torch.__version__}")
    print(f"{'check':<20} {'status':<6} {'s':>6}  detail")
    for row in results:
        print(f"{row['check']:<20} {row['status']:<6} {row['seconds']:>6.1f}  {row['detail']}")
    failed = [row["check"] for row in results if row["status"] == "fail"]
    summary = {"device": device, "torch": torch.__version__, "dry_run": args.dry_run, "failed": failed,
               "checks": results}
    print("gpu_check: " + json.dumps(summary))
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(summary, handle, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""State-dict digests of every shipped config's model, built with a fixed torch seed.

A refactor of models/ must not change which modules are built, in which order (hence the
random init a seed gives), their names or shapes: the digests pin all of that.

    python tests/models/state_digests.py [--full] OUT.json    # write the digests
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from video3d.config import load_config  # noqa: E402
from video3d.models import build_model  # noqa: E402

SEED = 1234
# The shipped network code at tiny widths (the class count stays: flip maps name labels).
TINY = ["RESNET.STEM_WIDTH", "8", "RESNET.WIDTH_PER_GROUP", "4", "HS.WIDTH", "2", "SPLAT.BOTTLENECK_WIDTH", "4"]


def shipped_configs() -> list[Path]:
    """Every configs/**/*.yaml but the _base_ files."""
    return sorted(p for p in (ROOT / "configs").rglob("*.yaml") if not p.name.startswith("_"))


def state_digest(cfg_file: Path, tiny: bool) -> str:
    """sha256 over (name, dtype, shape, bytes) of every state-dict entry, in order; `tiny`
    shrinks the widths of all but the (small) demo models."""
    tiny = tiny and cfg_file.parent.name != "demo"
    cfg = load_config(str(cfg_file), list(TINY) if tiny else [])
    torch.manual_seed(SEED)
    model = build_model(cfg)
    sha = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        sha.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        sha.update(tensor.detach().contiguous().cpu().numpy().tobytes())
    return sha.hexdigest()


def all_digests(tiny: bool) -> dict[str, str]:
    return {str(p.relative_to(ROOT)): state_digest(p, tiny) for p in shipped_configs()}


if __name__ == "__main__":
    torch.set_num_threads(1)
    full = "--full" in sys.argv
    out = Path([a for a in sys.argv[1:] if a != "--full"][0])
    out.write_text(json.dumps(all_digests(tiny=not full), indent=1, sort_keys=True) + "\n")

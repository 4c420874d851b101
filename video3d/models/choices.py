"""The axes of the 3D residual skeleton, each one name -> builder table (docs/MODELS.md).

`ResNet3D` builds from these tables, `video3d.config.checks` takes the allowed values of
RESNET.STEM / LAYOUT / SHORTCUT / BLOCK and MODEL.HEAD from them, and a bad name gets the
same one-line error everywhere. Adding an entry: docs/EXTENDING.md.
"""

from __future__ import annotations

from video3d.choices import Choices
from video3d.models.blocks import BasicBlock, Bottleneck
from video3d.models.heads import FFCHead, LinearHead
from video3d.models.hs import HSBottleneck
from video3d.models.layouts import improved_roles, standard_roles
from video3d.models.shortcuts import avgdown_shortcut, conv_shortcut, maxpool_shortcut
from video3d.models.spec import BlockSpec, ResNetSpec
from video3d.models.splat import SplatBottleneck
from video3d.models.stems import basic_stem, deep_stem

# (spec: ResNetSpec, norm) -> stem module.
STEMS = Choices("RESNET.STEM", {"basic": basic_stem, "deep": deep_stem})

# number of blocks -> one BlockRole per block.
LAYOUTS = Choices("RESNET.LAYOUT", {"standard": standard_roles, "improved": improved_roles})

# (in_channels, out_channels, stride, norm) -> projection, where the identity does not fit.
SHORTCUTS = Choices("RESNET.SHORTCUT", {"conv": conv_shortcut, "maxpool": maxpool_shortcut,
                                        "avgdown": avgdown_shortcut})

# ResidualBlock subclasses: `expansion`, `inner_width(spec, stage)`, `from_spec(...)`.
BLOCKS = Choices("RESNET.BLOCK", {"basic": BasicBlock, "bottleneck": Bottleneck, "hs": HSBottleneck,
                                  "splat": SplatBottleneck})

# (in_features, num_classes, dropout) -> head module.
HEADS = Choices("MODEL.HEAD", {"linear": LinearHead, "ffc": FFCHead})


def inner_width(block: BlockSpec, stage: int) -> int:
    """Channels of the block's inner (3x3) part at stage 0..3 (its class's arithmetic)."""
    return BLOCKS[block.kind].inner_width(block, stage)


def out_channels(spec: ResNetSpec, stage: int) -> int:
    """Output channels of stage 0..3: planes x the block class's expansion."""
    return spec.planes(stage) * BLOCKS[spec.block.kind].expansion


def feature_dim(spec: ResNetSpec) -> int:
    """Channels of the last stage's feature map, the head's input."""
    return out_channels(spec, len(spec.stage_blocks) - 1)

"""The 3D residual network family (ResNet3D, iResNet3D, HS-ResNet3D, ResNeSt3D) and the FFC head."""

from video3d.models.build import ARCHS, build_model
from video3d.models.heads import FFCHead, LinearHead, ffc_vote, training_logits
from video3d.models.inflate import load_pretrained
from video3d.models.resnet3d import ResNet3D
from video3d.models.spec import BlockSpec, ResNetSpec, spec_from_cfg

__all__ = [
    "ARCHS", "BlockSpec", "FFCHead", "LinearHead", "ResNet3D", "ResNetSpec",
    "build_model", "ffc_vote", "load_pretrained", "spec_from_cfg", "training_logits",
]

"""video3d: 3D CNN video action recognition (iResNet, HS-ResNet, ResNeSt, ResNet3D, FFC head)."""

import sys


def _alias_functional_tensor() -> None:
    """pytorchvideo 0.1.5 imports ``torchvision.transforms.functional_tensor``, which
    torchvision renamed to ``_functional_tensor``; alias it once, before any pytorchvideo
    import. Aliasing to ``torchvision.transforms.functional`` instead breaks its affine ops
    (docs/ENVIRONMENT.md)."""
    try:
        import torchvision.transforms._functional_tensor as functional_tensor
    except ImportError:  # an older torchvision still ships the public module
        return
    sys.modules.setdefault("torchvision.transforms.functional_tensor", functional_tensor)


_alias_functional_tensor()

__version__ = "0.1.0"

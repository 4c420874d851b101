"""Stage layouts: where each block of a stage puts its BNs and ReLUs (`BlockRole`).

`standard`: every block post-activation (He et al. 2016). `improved`: iResNet's ResStage of
Start, Middle and End blocks (Duta et al. 2020, section 3.1, Fig. 2); docs/MODELS.md lists
the choices made where the paper is ambiguous.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BlockRole:
    """Where a block puts its BNs and ReLUs (iResNet paper section 3.1, Fig. 2).

    pre: what runs on the input before the first conv: "none", "relu" or "bn_relu" (BN0).
    branch_bn: the branch ends with a BN before the addition.
    post: what runs on the sum: "none", "relu" or "bn_relu" (the End block's BN3).
    """

    pre: str
    branch_bn: bool
    post: str


STANDARD_ROLE = BlockRole(pre="none", branch_bn=True, post="relu")
START_ROLE = BlockRole(pre="none", branch_bn=True, post="none")


def improved_roles(num_blocks: int) -> list[BlockRole]:
    """iResNet ResStage roles: Start, Middle..., End.

    The first Middle block has no BN0 (the Start block already normalised the signal); with
    exactly two blocks the End block is that first one after Start, so it has no BN0 either
    (official builder). A one-block stage is Start and End at once: no pre-activation, the
    End's BN3 + ReLU on the sum (our choice; same parameters as a standard block).
    """
    if num_blocks == 1:
        return [BlockRole(pre="none", branch_bn=False, post="bn_relu")]
    roles = [START_ROLE]
    for index in range(1, num_blocks - 1):
        roles.append(BlockRole(pre="relu" if index == 1 else "bn_relu", branch_bn=False, post="none"))
    roles.append(BlockRole(pre="relu" if num_blocks == 2 else "bn_relu", branch_bn=False, post="bn_relu"))
    return roles



def standard_roles(num_blocks: int) -> list[BlockRole]:
    """Post-activation ResNet: every block normalises its branch and applies ReLU to the sum."""
    return [STANDARD_ROLE] * num_blocks

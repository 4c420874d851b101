"""Training loop, evaluator, checkpoints, distributed set-up, optimisation, meters."""

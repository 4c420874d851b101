"""Suite-wide fixtures."""

import logging

import pytest


@pytest.fixture(autouse=True)
def _fresh_video3d_logger():
    """`setup_logging` (called by run_net, the trainer and some tests) stops propagation to the
    root logger and adds handlers; undo that after each test so `caplog` sees every message
    whatever the test order."""
    yield
    logger = logging.getLogger("video3d")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.propagate = True
    logger.setLevel(logging.NOTSET)

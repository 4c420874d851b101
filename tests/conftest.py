"""Suite-wide fixtures."""

import logging

import pytest
import torch


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


@pytest.fixture
def one_thread():
    """One intra-op thread for the test (two shared cores: small convs thrash with more);
    `pytestmark = pytest.mark.usefixtures("one_thread")` applies it to a whole file."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

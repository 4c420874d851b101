"""Shim for running from a checkout: `python tools/serve.py ...`; the tool is video3d/cli/serve.py."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the checkout's video3d

from video3d.cli.serve import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

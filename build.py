#!/usr/bin/env python3
"""Entry point kept at the repository root: `python build.py [command] …` = `livret …`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from livret.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

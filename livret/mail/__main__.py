"""`python -m livret.mail --recipients FILE [--send]`: the mail subcommand on its own."""

import sys

from .cli import main

sys.exit(main())

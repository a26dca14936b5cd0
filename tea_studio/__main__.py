"""`python -m tea_studio` is the `tea-studio` command."""

import sys

from tea_studio.cli import main

sys.exit(main())

"""Run the command line: ``python -m groove_async``."""

from groove_async.cli import main

raise SystemExit(main())

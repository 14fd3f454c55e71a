"""``python -m truststore_builder``: the same command line as ``truststore-builder``."""

from truststore_builder._cli import main

raise SystemExit(main())

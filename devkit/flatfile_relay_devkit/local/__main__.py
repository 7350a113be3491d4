"""`python -m flatfile_relay_devkit.local` — run the pipeline locally (what `make run` does)."""

from flatfile_relay_devkit.local.runner import main

raise SystemExit(main())

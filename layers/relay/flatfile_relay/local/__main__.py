"""`python -m flatfile_relay.local` — run the pipeline locally (what `make run` does)."""

from flatfile_relay.local.runner import main

raise SystemExit(main())

"""`python -m devcluster.controlplane up|down --dir DIR` (what `make cluster-up` and
`make cluster-down` run)."""

import sys

from devcluster.controlplane.plane import main

sys.exit(main())

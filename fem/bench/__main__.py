"""``python -m fem.bench``: the heat benchmark (:mod:`fem.bench.heat`)."""

from fem.bench.heat import main

raise SystemExit(main())

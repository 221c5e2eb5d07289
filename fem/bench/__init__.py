"""Benchmarks (``make bench``, ``make bench-mesh``): the heat solver against the DOLFINx
tutorial pattern (:mod:`~fem.bench.heat`, ``python -m fem.bench``), the time loop of a run
against that solver alone (:mod:`~fem.bench.production`, in the same ``bench.json``; the
workers of both in :mod:`~fem.bench.workers`) and the mesh time against
the number of columns (:mod:`~fem.bench.mesh`, ``python -m fem.bench.mesh``).

At the top of the house with the command line: may import every layer.
"""

"""Benchmarks (``make bench``, ``make bench-mesh``): the heat solver against the DOLFINx
tutorial pattern (:mod:`~fem.bench.heat`, ``python -m fem.bench``) and the mesh time against
the number of columns (:mod:`~fem.bench.mesh`, ``python -m fem.bench.mesh``).

At the top of the house with the command line: may import every layer.
"""

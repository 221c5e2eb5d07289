"""Mesh builders that stand alone: the layered skin block with its MTZ columns and craters
(:mod:`~meshes.skin`, pure gmsh) and the treatment patterns (:mod:`~meshes.patterns`).

Imports nothing from ``fem``: the bottom of the house (``fem.run.mesh`` turns the gmsh model
into a DOLFINx mesh).
"""

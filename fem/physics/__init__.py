"""Physics: one equation or law per module, on DOLFINx.

* :mod:`~fem.physics.source`: the Gaussian-beam Beer-Lambert laser source, its pulse and
  firing groups (energy-exact);
* :mod:`~fem.physics.cooling`: the surface in air (convection, evaporation) and under a
  cooling device;
* :mod:`~fem.physics.heat`: the Pennes bioheat problem; :mod:`~fem.physics.ledger` its
  energy ledger; :mod:`~fem.physics.boiling` the latent heat of tissue water;
* :mod:`~fem.physics.damage`: Arrhenius damage integrals and the CEM43 thermal dose;
* :mod:`~fem.physics.mechanics`: eigenstrain elasticity and tightening;
* :mod:`~fem.physics.layers`: per-layer coefficients; :mod:`~fem.physics.state`: what a
  problem hands a checkpoint.

Typed settings in (the sections of :mod:`fem.config.sections`, never the whole case), DOLFINx
objects out; no file is read or written here. May import :mod:`fem.config`,
:mod:`fem.solvers`, :mod:`fem.parallel` and :mod:`meshes` (tags, layouts).
"""

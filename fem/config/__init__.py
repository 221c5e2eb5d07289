"""Configuration: case files (TOML, units in the key names) -> one typed case in SI.

* :mod:`~fem.config.schema`: the key helper, value checks, :class:`CaseError`;
* :mod:`~fem.config.sections`: one frozen dataclass per section (the schema itself);
* :mod:`~fem.config.resolve`: reading, overrides, presets, defaults, derived defaults;
* :mod:`~fem.config.case`: the typed :class:`Case` of a file or a dictionary;
* :mod:`~fem.config.presets`: skin sites, lasers, kinetics, water, blood, cooling devices,
  each value with its source; :mod:`~fem.config.crater`: the blow-off crater of a pulse.

May import: :mod:`meshes.patterns` (layouts) and the standard library; nothing else of
``fem`` (the physics takes these sections, so the configuration sits below it).
"""

from fem.config.case import build_case, case_from_dict, load_case, resolve
from fem.config.resolve import apply_overrides, parse_override, read_case_dict, read_toml
from fem.config.schema import MS, UM, CaseError
from fem.config.sections import Case, Layer

__all__ = ["MS", "UM", "Case", "CaseError", "Layer", "apply_overrides", "build_case",
           "case_from_dict", "load_case", "parse_override", "read_case_dict", "read_toml",
           "resolve"]

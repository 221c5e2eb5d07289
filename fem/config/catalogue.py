"""The presets a case can name, listed for people (``mtz presets``): skin sites, lasers and
kinetics sets with their main values and the source notes written above each entry in
:mod:`fem.config.presets`, so the listing and the code cannot drift."""

from __future__ import annotations

import inspect
import textwrap

from fem.config import presets


def _notes(source: list[str], name: str) -> str:
    """The comment lines just above ``"name":`` in the presets' source, joined."""
    key = f'"{name}":'
    for i, line in enumerate(source):
        if line.strip().startswith(key):
            notes = []
            for above in reversed(source[:i]):
                text = above.strip()
                if not text.startswith("#"):
                    break
                notes.insert(0, text.lstrip("#").strip())
            inline = line.partition("#")[2].strip() if "#" in line else ""
            return " ".join(notes) or inline
    return ""


def _skin(name: str, site: dict) -> str:
    layers = ", ".join(f"{layer.replace('_', ' ')} {v['thickness_um']:g}"
                       for layer, v in site["layers"].items())
    return f"layers (µm): {layers}; hair follicles {site['follicles_per_cm2']:g}/cm²"


def _laser(name: str, laser: dict) -> str:
    return (f"{laser['wavelength_nm']:g} nm, {laser['light'].replace('_', '-')} light, "
            f"{laser['energy_mJ']:g} mJ, spot {laser['spot_um']:g} µm, pulse "
            f"{laser['pulse_ms']:g} ms")


def _kinetics(name: str, k: dict) -> str:
    if not k:
        return ""
    text = f"A {k['A_per_s']:.3g} 1/s, Ea {k['Ea_J_per_mol'] / 1e3:.4g} kJ/mol"
    if "switch_C" in k:
        text += (f" below {k['switch_C']:g} °C; A {k['A_high_per_s']:.3g} 1/s, Ea "
                 f"{k['Ea_high_J_per_mol'] / 1e3:.4g} kJ/mol above")
    return text


KINDS = (("skin sites", "skin.preset", presets.SKIN_PRESETS, _skin),
         ("lasers", "laser.preset", presets.LASER_PRESETS, _laser),
         ("kinetics sets", "damage.cell / damage.collagen", presets.KINETICS_PRESETS,
          _kinetics))


def describe_presets() -> str:
    """Every preset, by kind: its name, main values and source notes."""
    source = inspect.getsource(presets).splitlines()
    out = []
    for title, key, table, values in KINDS:
        out.append(f"{title} ({key}):")
        for name, entry in table.items():
            out.append(f"  {name}: {values(name, entry)}".rstrip(": "))
            notes = _notes(source, name)
            if notes:
                out.append(textwrap.fill(notes, 96, initial_indent=" " * 6,
                                         subsequent_indent=" " * 6))
        out.append("")
    out.append(f"Values and their sources in full: {presets.__file__}")
    return "\n".join(out) + "\n"

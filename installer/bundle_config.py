"""What goes into the installed application, and what stays out: the decisions behind `ran_screening.spec`.

Plain Python (no PyInstaller, no torch) so the tests can check it quickly; the spec file imports it.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import os
from fnmatch import fnmatch
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
INSTALLER = ROOT / "installer"
MODELS = ROOT / "models"
RESOURCES = ROOT / "resources"
ICONS = RESOURCES / "icons"

DIST_NAME = "ran-screening"  # the project's distribution name (importlib.metadata)
APP_NAME = "RAN Screening"  # what people see: window title, Start menu, macOS .app
EXE_NAME = "ran-screening"  # the program file (ran-screening.exe on Windows) and the build folder in dist/
BUNDLE_ID = "org.ran-screening.desktop"  # macOS bundle identifier, also the Linux .desktop file's name
ENTRY_SCRIPT = INSTALLER / "launcher.py"

ICON_SVG = ICONS / "ran-screening.svg"
ICON_ICO = ICONS / "ran-screening.ico"
ICON_ICNS = ICONS / "ran-screening.icns"
ICON_PNG = ICONS / "ran-screening-256.png"

# Found at run time through entry points (pylibjpeg's DICOM decoders) or importlib.metadata (the app's version):
# their metadata must travel with the code, or compressed DICOM is unreadable and the version reads 0.0.0+source.
METADATA_DISTRIBUTIONS = ("ran-screening", "pylibjpeg", "pylibjpeg-libjpeg", "pylibjpeg-rle")

# Imported by name at run time (pylibjpeg entry points), so the import analysis cannot see them.
HIDDEN_IMPORTS = ("libjpeg", "libjpeg.utils", "rle", "rle.utils")

# Qt modules the app does not import (it uses QtCore, QtGui and QtWidgets only). PyInstaller only collects what is
# imported, but plug-in dependencies and other hooks can drag these in; naming them keeps them out for good.
QT_EXCLUDES = (
    "PySide6.Qt3DAnimation", "PySide6.Qt3DCore", "PySide6.Qt3DExtras", "PySide6.Qt3DInput", "PySide6.Qt3DLogic",
    "PySide6.Qt3DRender", "PySide6.QtBluetooth", "PySide6.QtCharts", "PySide6.QtConcurrent", "PySide6.QtDBus",
    "PySide6.QtDataVisualization", "PySide6.QtDesigner", "PySide6.QtGraphs", "PySide6.QtGraphsWidgets",
    "PySide6.QtHelp", "PySide6.QtHttpServer", "PySide6.QtLocation", "PySide6.QtMultimedia",
    "PySide6.QtMultimediaWidgets", "PySide6.QtNetwork", "PySide6.QtNetworkAuth", "PySide6.QtNfc", "PySide6.QtOpenGL",
    "PySide6.QtOpenGLWidgets", "PySide6.QtPdf", "PySide6.QtPdfWidgets", "PySide6.QtPositioning",
    "PySide6.QtPrintSupport", "PySide6.QtQml", "PySide6.QtQmlFeatures", "PySide6.QtQuick", "PySide6.QtQuick3D",
    "PySide6.QtQuickControls2", "PySide6.QtQuickTest", "PySide6.QtQuickWidgets", "PySide6.QtRemoteObjects",
    "PySide6.QtScxml", "PySide6.QtSensors", "PySide6.QtSerialBus", "PySide6.QtSerialPort", "PySide6.QtSpatialAudio",
    "PySide6.QtSql", "PySide6.QtStateMachine", "PySide6.QtSvgWidgets", "PySide6.QtTest", "PySide6.QtTextToSpeech",
    "PySide6.QtUiTools", "PySide6.QtWebChannel", "PySide6.QtWebEngineCore", "PySide6.QtWebEngineQuick",
    "PySide6.QtWebEngineWidgets", "PySide6.QtWebSockets", "PySide6.QtWebView", "PySide6.QtXml",
    "PySide6.QtLabsStyleKit",
)

# Training, testing and development packages, and parts of torch the app never reaches (compilation, export,
# TensorBoard). `triton` alone is about 0.9 GB: it compiles kernels for torch.compile, which the app does not use.
PYTHON_EXCLUDES = (
    "training", "tests", "scripts", "bench",
    "sklearn", "matplotlib", "mpl_toolkits", "scipy", "skimage", "pytorch_grad_cam", "ttach", "xlrd", "xlwt",
    "openpyxl", "pytest", "_pytest", "pytestqt", "hypothesis", "pypdf", "IPython", "jedi", "tkinter", "_tkinter",
    "torchvision", "triton", "sympy", "mpmath", "networkx", "tensorboard", "torch.utils.tensorboard",
    "torch._inductor", "torch.onnx", "onnx", "onnxscript",
    "libjpeg.tests", "rle.tests", "rle.benchmarks", "numpy.tests", "PIL.ImageTk",
    # `ran-screen --cluster` (an optional extra for archives, not the desktop app) is the only user of Ray.
    "ray", "pyarrow", "pandas",
    # Pillow's AVIF and WebP codecs (6 MB with their libraries): the app reads neither format (loading/api.py names
    # them as unsupported from their first bytes).
    "PIL._avif", "PIL.AvifImagePlugin", "PIL._webp", "PIL.WebPImagePlugin",
)

EXCLUDES = PYTHON_EXCLUDES + QT_EXCLUDES

# The two builds (installer/README.md): "full" ships PyTorch with its CUDA libraries (GPU where there is one, else the
# CPU); "cpu" ships no torch at all and runs the bundle's ONNX graph with ONNX Runtime, a tenth of the size, for the
# CPU-only PCs most clinics have. The spec reads the choice from VARIANT_ENV.
VARIANT_ENV = "RAN_BUILD_VARIANT"
FULL, CPU = "full", "cpu"
VARIANTS = (FULL, CPU)
# Left out of the CPU build besides EXCLUDES: torch and what only torch uses.
CPU_EXCLUDES = ("torch", "torchgen", "functorch", "nvidia", "safetensors.torch")

# Collected files (binaries and data, by their path in the bundle) left out after the analysis, as glob patterns; a
# pattern without "/" matches the file name anywhere. The Qt platform plug-ins for embedded and remote displays
# (EGLFS, LinuxFB, VNC, Vulkan-KHR) and their input plug-ins are not used on a desktop (X11, Wayland, Windows and
# macOS have their own); QtNetwork is only needed by the VNC and TUIO plug-ins.
# libstdc++ and libgcc_s come from the target system instead: a bundled copy older than the system's breaks the
# system's OpenGL drivers (Mesa needs the newer one) and with them Qt's window; every system that meets the
# bundle's glibc requirement has a new enough libstdc++ (the .deb states it in Depends).
SKIPPED_FILES = (
    "PySide6/Qt/plugins/platforms/libqeglfs.so",
    "PySide6/Qt/plugins/platforms/libqlinuxfb.so",
    "PySide6/Qt/plugins/platforms/libqminimalegl.so",
    "PySide6/Qt/plugins/platforms/libqvnc.so",
    "PySide6/Qt/plugins/platforms/libqvkkhrdisplay.so",
    "PySide6/Qt/plugins/egldeviceintegrations/*",
    "PySide6/Qt/plugins/generic/*",
    "libQt6EglFSDeviceIntegration.so.6",
    "libQt6EglFsKmsSupport.so.6",
    "libQt6Network.so.6",
    "libstdc++.so.6",
    "libgcc_s.so.1",
    "hypothesis-*.dist-info/*",
    # Qt's own translations (7 MB): the app is in English and installs no QTranslator.
    "PySide6/Qt/translations/*",
)

# The interpreter's own binaries, by their path inside _internal/: a Python built from source (pyenv) keeps its
# debugging information (libpython 23 MB, 6 MB without). build_linux.py removes it with `strip --strip-debug`, which
# leaves every symbol the loader needs. Only these: the wheels' libraries were rewritten by auditwheel (patchelf),
# and stripping those breaks them (numpy then fails to import).
STRIP_DEBUG = ("libpython3*.so*", "python3.*/lib-dynload/*.so")

# Loaded by the CUDA libraries with dlopen (NVRTC loads its builtins when cuDNN or torch compile a kernel at run
# time), so binary analysis cannot see them; without them GPU inference fails on the first such kernel.
NVIDIA_DLOPENED = ("libnvrtc-builtins.so.*",)

# Build-time files under resources/ that the installed app has no use for.
RESOURCE_SKIP_SUFFIXES = (".py", ".pyc")


class BuildConfigError(Exception):
    """The tree cannot be packaged as it is; the message says what to do."""


def build_variant(environ: dict[str, str] | None = None) -> str:
    """The build asked for by VARIANT_ENV: FULL unless it says CPU."""
    chosen = (os.environ if environ is None else environ).get(VARIANT_ENV, FULL).strip().lower() or FULL
    if chosen not in VARIANTS:
        raise BuildConfigError(f"{VARIANT_ENV}={chosen!r}: use one of {', '.join(VARIANTS)}")
    return chosen


def excludes(variant: str = FULL) -> tuple[str, ...]:
    return EXCLUDES + (CPU_EXCLUDES if variant == CPU else ())


def package_name(variant: str = FULL) -> str:
    """The .deb's package name (and the setup program's name): the CPU build is a package of its own, which
    replaces the full one and is replaced by it (both install to the same folder)."""
    return EXE_NAME if variant == FULL else f"{EXE_NAME}-{variant}"


def app_version() -> str:
    """The version from the installed package's metadata (pyproject.toml's `version`)."""
    try:
        return version(DIST_NAME)
    except PackageNotFoundError as exc:
        raise BuildConfigError(
            f"the {DIST_NAME} package is not installed in this Python; run `python -m pip install -e .` "
            "(or scripts/bootstrap.py) first"
        ) from exc


def windows_version_tuple(text: str) -> tuple[int, int, int, int]:
    """'1.2.3', '1.2.3rc1' or '1.2' as the four numbers a Windows version resource needs."""
    numbers: list[int] = []
    for part in text.split("+")[0].split("."):
        digits = ""
        for ch in part:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            break
        numbers.append(int(digits))
        if len(numbers) == 4:
            break
    if not numbers:
        raise BuildConfigError(f"version {text!r} does not start with a number")
    return tuple(numbers + [0] * (4 - len(numbers)))  # type: ignore[return-value]


def _manifest(folder: Path) -> dict:
    try:
        return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BuildConfigError(f"{folder / 'manifest.json'} cannot be read ({exc})") from exc


def _check_weights(folder: Path, manifest: dict) -> Path:
    """The weights must match the manifest: the app refuses a bundle that does not, so refuse to ship it."""
    weights_info = manifest.get("weights") or {}
    weights = folder / str(weights_info.get("file", ""))
    if not weights.is_file():
        raise BuildConfigError(f"{folder}: weights file {weights.name!r} is missing")
    if weights.stat().st_size != weights_info.get("bytes"):
        raise BuildConfigError(f"{weights}: size differs from the manifest; the bundle is damaged")
    digest = hashlib.sha256()
    with open(weights, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != weights_info.get("sha256"):
        raise BuildConfigError(f"{weights}: sha256 differs from the manifest; the bundle is damaged")
    return weights


def shipped_bundles(models_root: Path = MODELS) -> list[Path]:
    """The model bundles to ship: the trained ones; only when there is none, the untrained ones.

    The app picks a trained bundle before an untrained one, so an untrained bundle next to a trained one would be
    dead weight (about 47 MB for RAN-18).
    """
    bundles = [p for p in sorted(models_root.iterdir()) if (p / "manifest.json").is_file()] \
        if models_root.is_dir() else []
    if not bundles:
        raise BuildConfigError(
            f"no model bundle in {models_root}: run `python scripts/bootstrap.py` (creates models/ran18-untrained) "
            "or copy a trained bundle there first"
        )
    trained = [p for p in bundles if _manifest(p).get("trained") is True]
    return trained or bundles


def _check_graph(folder: Path, manifest: dict) -> None:
    """The CPU build runs the bundle's ONNX graph: a bundle without one could not screen there."""
    graph = manifest.get("inference_graph") or {}
    if not graph or not (folder / str(graph.get("file", ""))).is_file():
        raise BuildConfigError(f"{folder}: no ONNX inference graph, which the CPU build runs; add one with "
                               f"`ran-export --add-graph {folder}` (or build the full variant)")


def model_datas(models_root: Path = MODELS, variant: str = FULL) -> list[tuple[str, str]]:
    """(source file, destination folder) pairs for models/: its README and each shipped bundle's files."""
    datas: list[tuple[str, str]] = []
    readme = models_root / "README.md"
    if readme.is_file():
        datas.append((str(readme), "models"))
    for bundle in shipped_bundles(models_root):
        _check_weights(bundle, _manifest(bundle))
        if variant == CPU:
            _check_graph(bundle, _manifest(bundle))
        for item in sorted(bundle.iterdir()):
            if item.is_file() and not item.name.startswith(".") and item.suffix != ".tmp":
                datas.append((str(item), f"models/{bundle.name}"))
    return datas


def resource_datas(resources_root: Path = RESOURCES) -> list[tuple[str, str]]:
    """(source file, destination folder) pairs for everything under resources/ (fonts, samples, icons)."""
    required = [resources_root / "fonts" / "DejaVuSans.ttf", resources_root / "samples"]
    for path in required:
        if not path.exists():
            raise BuildConfigError(f"{path} is missing; the app cannot work without it")
    datas = []
    for item in sorted(resources_root.rglob("*")):
        relative = item.relative_to(resources_root)
        if (not item.is_file() or item.suffix in RESOURCE_SKIP_SUFFIXES or "__pycache__" in relative.parts
                or any(part.startswith(".") for part in relative.parts)):
            continue
        datas.append((str(item), str(Path("resources") / relative.parent).replace("\\", "/")))
    return datas


MIGRATIONS = ROOT / "ran_desktop" / "engine" / "records" / "migrations"


def stub_datas(package_root: Path = ROOT / "ran_desktop") -> list[tuple[str, str]]:
    """(source file, destination folder) pairs for the packages' __init__.pyi: lazy_loader reads each at run time to
    learn the package's public names (attach_stub), so they travel beside the compiled modules."""
    return [(str(stub), str(stub.parent.relative_to(package_root.parent)).replace("\\", "/"))
            for stub in sorted(package_root.rglob("__init__.pyi"))]


def _module_names(package_root: Path) -> dict[str, Path]:
    return {".".join(p.relative_to(package_root.parent).with_suffix("").parts).removesuffix(".__init__"): p
            for p in package_root.rglob("*.py") if MIGRATIONS not in p.parents}


def lazy_modules(package_root: Path = ROOT / "ran_desktop", variant: str = FULL) -> list[str]:
    """Every module of the app: many are only reached through a package's lazy names, which PyInstaller's import
    analysis cannot follow. The CPU build leaves out those that cannot import without torch."""
    left_out = left_out_modules(variant, package_root)
    return sorted(name for name in _module_names(package_root) if name not in left_out)


def left_out_modules(variant: str = FULL, package_root: Path = ROOT / "ran_desktop") -> set[str]:
    """The app's modules that cannot import in this build, because they need a package it excludes: Ray's (the
    cluster screener) in both, torch's in the CPU build."""
    return modules_needing({name for name in excludes(variant) if "." not in name}, package_root)


def modules_needing(packages: set[str], package_root: Path = ROOT / "ran_desktop") -> set[str]:
    """The app's modules that import one of `packages` (or another such module) unconditionally when loaded, read
    from their source: an import guarded by `try: ... except ImportError` (device.py) or under TYPE_CHECKING does
    not count."""
    names = _module_names(package_root)
    imports = {name: _hard_imports(path, name) for name, path in names.items()}
    needs = {name for name, found in imports.items() if any(m.split(".")[0] in packages for m in found)}
    while True:
        more = {name for name, found in imports.items() if name not in needs and any(
            m in needs or any(m.startswith(n + ".") for n in needs) for m in found)}
        if not more:
            return needs
        needs |= more


def _hard_imports(path: Path, module: str) -> set[str]:
    """Modules imported at the top level of `path` outside try/except and `if TYPE_CHECKING:` blocks."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from package import module`
    return found


def migration_datas(package_root: Path = ROOT / "ran_desktop") -> list[tuple[str, str]]:
    """The database migrations as source files: Alembic reads its environment and revisions from the folder, so
    they travel as data, not as compiled modules."""
    return [(str(path), str(path.parent.relative_to(package_root.parent)).replace("\\", "/"))
            for path in sorted(MIGRATIONS.rglob("*")) if path.suffix in (".py", ".mako")]


def data_files(models_root: Path = MODELS, resources_root: Path = RESOURCES,
               variant: str = FULL) -> list[tuple[str, str]]:
    return model_datas(models_root, variant) + resource_datas(resources_root) + stub_datas() + migration_datas()


def is_skipped(dest: str) -> bool:
    """Whether a collected file (its path inside the bundle) is one of SKIPPED_FILES."""
    path = PurePosixPath(dest.replace("\\", "/"))
    for pattern in SKIPPED_FILES:
        if "/" in pattern:
            if fnmatch(str(path), pattern):
                return True
        elif fnmatch(path.name, pattern):
            return True
    return False


def nvidia_dlopened_binaries() -> list[tuple[str, str]]:
    """(library, destination folder) for NVIDIA_DLOPENED in the nvidia-* wheels; none where they are not installed
    (Windows wheels carry their CUDA DLLs inside torch, macOS has no CUDA)."""
    spec = importlib.util.find_spec("nvidia")
    if spec is None or not spec.submodule_search_locations:
        return []
    found = []
    for base in spec.submodule_search_locations:
        root = Path(base)
        for pattern in NVIDIA_DLOPENED:
            for lib in sorted(root.glob(f"*/lib/{pattern}")):
                found.append((str(lib), str(PurePosixPath("nvidia") / lib.parent.relative_to(root).as_posix())))
    return found


def icon_for(platform: str) -> Path:
    """The program icon for `sys.platform`: .ico on Windows, .icns on macOS, the PNG elsewhere."""
    if platform.startswith("win"):
        icon = ICON_ICO
    elif platform == "darwin":
        icon = ICON_ICNS
    else:
        icon = ICON_PNG
    if not icon.is_file():
        raise BuildConfigError(f"{icon} is missing; run `python installer/make_icons.py`")
    return icon


def windows_version_info(text: str) -> str:
    """The Windows version resource (PyInstaller's VSVersionInfo text) for the program file."""
    v = windows_version_tuple(text)
    return f"""VSVersionInfo(
  ffi=FixedFileInfo(filevers={v}, prodvers={v}, mask=0x3f, flags=0x0, OS=0x40004, fileType=0x1, subtype=0x0,
                    date=(0, 0)),
  kids=[
    StringFileInfo([StringTable('040904B0', [
      StringStruct('CompanyName', 'RAN Screening project'),
      StringStruct('FileDescription', '{APP_NAME}: diabetic retinopathy screening'),
      StringStruct('FileVersion', '{text}'),
      StringStruct('InternalName', '{EXE_NAME}'),
      StringStruct('LegalCopyright', 'Apache License 2.0'),
      StringStruct('OriginalFilename', '{EXE_NAME}.exe'),
      StringStruct('ProductName', '{APP_NAME}'),
      StringStruct('ProductVersion', '{text}')])]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])])
  ]
)
"""


def macos_info_plist(text: str) -> dict[str, object]:
    return {
        "CFBundleDisplayName": APP_NAME,
        "CFBundleName": APP_NAME,
        "CFBundleShortVersionString": text,
        "CFBundleVersion": text,
        "NSHighResolutionCapable": True,
        "NSRequiresAquaSystemAppearance": False,
        "LSMinimumSystemVersion": "11.0",
        "NSHumanReadableCopyright": "Apache License 2.0",
        "LSApplicationCategoryType": "public.app-category.medical",
    }

"""The installer's configuration (installer/bundle_config.py, the PyInstaller spec, the Linux and Windows packaging
files) and, marked slow, a real Linux build whose program must pass its own --self-test."""

import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from ran_desktop.engine.records.tables import HEAD_REVISION

ROOT = Path(__file__).resolve().parent.parent
INSTALLER = ROOT / "installer"
sys.path.insert(0, str(INSTALLER))

import build_linux  # noqa: E402
import bundle_config as cfg  # noqa: E402
import make_icons  # noqa: E402
from left_out import run_without  # noqa: E402

SPEC = INSTALLER / "ran_screening.spec"


def pyproject_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


# --- version -------------------------------------------------------------------------------------------------


def test_version_comes_from_the_installed_package_metadata():
    assert cfg.app_version() == pyproject_version()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0.1.0", (0, 1, 0, 0)), ("1.2", (1, 2, 0, 0)), ("1.2.3rc1", (1, 2, 3, 0)), ("2.0.1.5.6", (2, 0, 1, 5)),
     ("1.4+clinic.2", (1, 4, 0, 0))],
)
def test_windows_version_numbers(text, expected):
    assert cfg.windows_version_tuple(text) == expected


def test_a_version_without_numbers_is_refused():
    with pytest.raises(cfg.BuildConfigError, match="does not start with a number"):
        cfg.windows_version_tuple("dev")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0.1.0", "0.1.0"), ("1.0rc1", "1.0~rc1"), ("1.0.dev2", "1.0~dev2"), ("2.0b3+local.1", "2.0~b3+local.1")],
)
def test_debian_versions_sort_pre_releases_first(text, expected):
    assert build_linux.debian_version(text) == expected


# --- what is shipped -----------------------------------------------------------------------------------------


def make_models(root: Path, tiny_bundle: Path, **bundles: bool) -> Path:
    """A models folder with copies of the tiny bundle, each marked trained or not in its manifest."""
    root.mkdir()
    for name, trained in bundles.items():
        folder = Path(shutil.copytree(tiny_bundle, root / name))
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["trained"] = trained
        (folder / "manifest.json").write_text(json.dumps(manifest))
    return root


def test_trained_bundles_are_shipped_without_the_untrained_ones(tiny_bundle, tmp_path):
    models = make_models(tmp_path / "models", tiny_bundle, **{"a-untrained": False, "b-trained": True})
    (models / "README.md").write_text("models")
    assert cfg.shipped_bundles(models) == [models / "b-trained"]
    datas = cfg.model_datas(models)
    assert (str(models / "README.md"), "models") in datas
    assert {Path(src).name for src, dest in datas if dest == "models/b-trained"} == {"manifest.json",
                                                                                    "weights.safetensors"}
    assert not [src for src, _ in datas if "a-untrained" in src]


def test_untrained_bundles_are_shipped_when_there_is_no_trained_one(tiny_bundle, tmp_path):
    models = make_models(tmp_path / "models", tiny_bundle, **{"x-untrained": False, "y-untrained": False})
    assert cfg.shipped_bundles(models) == [models / "x-untrained", models / "y-untrained"]


def test_no_bundle_stops_the_build_with_what_to_do(tmp_path):
    (tmp_path / "models").mkdir()
    with pytest.raises(cfg.BuildConfigError, match="no model bundle .* scripts/bootstrap.py"):
        cfg.model_datas(tmp_path / "models")


def test_a_damaged_bundle_is_not_shipped(tiny_bundle, tmp_path):
    models = make_models(tmp_path / "models", tiny_bundle, **{"m-trained": True})
    weights = models / "m-trained" / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[100] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(cfg.BuildConfigError, match="sha256 differs"):
        cfg.model_datas(models)


def test_the_cpu_build_ships_only_bundles_it_can_run(tiny_bundle, tmp_path):
    """The CPU build runs the bundle's ONNX graph: a bundle without one stops the build, saying how to add it."""
    models = make_models(tmp_path / "models", tiny_bundle, **{"m-trained": True})
    assert cfg.model_datas(models, cfg.FULL)
    with pytest.raises(cfg.BuildConfigError, match="no ONNX inference graph.*ran-export --add-graph"):
        cfg.model_datas(models, cfg.CPU)
    shipped = {Path(src).name for src, _ in cfg.model_datas(cfg.MODELS, cfg.CPU)}  # the repository's model has one
    assert {"manifest.json", "weights.safetensors", "model.onnx"} <= shipped


def test_the_build_variant_comes_from_the_environment():
    assert cfg.build_variant({}) == cfg.FULL and cfg.build_variant({cfg.VARIANT_ENV: " CPU "}) == cfg.CPU
    with pytest.raises(cfg.BuildConfigError, match="use one of full, cpu"):
        cfg.build_variant({cfg.VARIANT_ENV: "gpu"})
    assert cfg.package_name(cfg.FULL) == "ran-screening" and cfg.package_name(cfg.CPU) == "ran-screening-cpu"
    assert "torch" not in cfg.excludes(cfg.FULL)
    assert {"torch", "nvidia", "torchvision", "triton"} <= set(cfg.excludes(cfg.CPU))


def test_the_modules_that_need_torch_are_found_from_their_imports():
    """What the CPU build leaves out: modules that import torch, directly or through another such module; an import
    guarded for its absence (device.py) or for type checkers only does not count."""
    needs = cfg.left_out_modules(cfg.CPU)
    # Ray (ran-screen --cluster), and torchvision's nvJPEG decoding (a pip install's, on a GPU workstation)
    assert cfg.left_out_modules(cfg.FULL) == {"ran_desktop.engine.screening.cluster",
                                              "ran_desktop.engine.imaging.loading.jpeg_on_device"}
    model = "ran_desktop.engine.model."
    assert {model + m for m in ("ran", "torch_runtime", "gradcam", "forward_cam", "bundle_writer", "untrained",
                                "lesion_head")} <= needs
    for runs_without in ("engine.model.bundle", "engine.model.device", "engine.model.runtime",
                         "engine.model.explanation", "engine.model.activation_maps", "engine.screening.screener",
                         "engine.screening.preparation", "gui.main_window", "app", "selftest", "cli.screen",
                         "reports.patient_report"):
        assert f"ran_desktop.{runs_without}" not in needs, runs_without
    kept = set(cfg.lazy_modules(variant=cfg.CPU))
    assert not kept & needs and kept | needs == set(cfg.lazy_modules()) | cfg.left_out_modules(cfg.FULL)


def test_the_cpu_build_works_without_torch(tmp_path):
    """Every module the CPU build ships imports, and the self-test passes on the repository's model, with torch and
    the rest of the CPU build's exclusions unimportable."""
    env = dict(RAN_MODELS_DIR=str(cfg.MODELS), RAN_DEVICE="", RAN_RUNTIME="", QT_QPA_PLATFORM="offscreen")
    done = run_without(cfg.excludes(cfg.CPU), EVERY_MODULE_AND_SELF_TEST.format(skip=cfg.left_out_modules(cfg.CPU)),
                       [str(tmp_path / "out")], env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no PyTorch (the CPU build): ONNX Runtime" in done.stdout and "SELF-TEST PASSED" in done.stdout
    assert re.search(r"device: CPU \(\d+ threads\), ONNX Runtime", done.stdout)


def test_the_trees_data_files_exist_and_cover_models_resources_and_icons():
    datas = cfg.data_files()
    for src, dest in datas:
        assert Path(src).is_file(), src
        assert dest.split("/")[0] in ("models", "resources", "ran_desktop") and "\\" not in dest
    by_dest = {(Path(src).name, dest) for src, dest in datas}
    assert ("manifest.json", f"models/{cfg.shipped_bundles()[0].name}") in by_dest
    assert ("DejaVuSans.ttf", "resources/fonts") in by_dest
    assert ("normal_fundus_OS.jpg", "resources/samples") in by_dest
    for icon in (cfg.ICON_ICO, cfg.ICON_ICNS, cfg.ICON_PNG, cfg.ICON_SVG):
        assert (icon.name, "resources/icons") in by_dest
    # Sources travel compiled, except the database migrations: Alembic reads its revisions from their folder.
    sources = [(Path(src).name, dest) for src, dest in datas if src.endswith((".py", ".pyc"))]
    assert sources and all(dest.startswith("ran_desktop/engine/records/migrations") for _, dest in sources)
    assert ("env.py", "ran_desktop/engine/records/migrations") in sources
    assert len([name for name, dest in sources if dest.endswith("/versions")]) == int(HEAD_REVISION)
    # The lazy packages' stubs travel beside their modules (lazy_loader reads them at run time).
    assert {("__init__.pyi", "ran_desktop/engine/screening"), ("__init__.pyi", "ran_desktop/gui")} <= by_dest


def test_icons_per_platform_are_real_images_with_the_sizes_each_needs():
    assert cfg.icon_for("win32") == cfg.ICON_ICO and cfg.icon_for("darwin") == cfg.ICON_ICNS
    assert cfg.icon_for("linux") == cfg.ICON_PNG
    with Image.open(cfg.ICON_ICO) as ico:
        assert {(s, s) for s in (16, 32, 48, 256)} <= set(ico.info["sizes"])
    with Image.open(cfg.ICON_ICNS) as icns:
        assert icns.size == (1024, 1024)
    with Image.open(cfg.ICON_PNG) as png:
        assert png.size == (256, 256) and png.mode == "RGBA"
    assert cfg.ICON_SVG.read_text(encoding="utf-8").lstrip().startswith("<?xml")


def test_committed_icons_are_what_make_icons_draws(tmp_path):
    make_icons.write_icons(tmp_path)
    for made in sorted(tmp_path.iterdir()):
        assert made.read_bytes() == (cfg.ICONS / made.name).read_bytes(), f"{made.name}: run installer/make_icons.py"


# --- what is left out ----------------------------------------------------------------------------------------


def test_training_test_and_unused_qt_modules_are_excluded():
    for name in ("training", "tests", "sklearn", "matplotlib", "scipy", "pytest", "hypothesis", "triton",
                 "torchvision", "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtWebEngineCore", "PySide6.Qt3DCore",
                 "PySide6.QtMultimedia", "PySide6.QtNetwork"):
        assert name in cfg.EXCLUDES, name
    for needed in ("PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", "torch", "cv2", "pydicom", "reportlab"):
        assert needed not in cfg.EXCLUDES


@pytest.mark.parametrize(
    ("dest", "skipped"),
    [("libstdc++.so.6", True), ("PySide6/Qt/lib/libQt6Network.so.6", True),
     ("PySide6/Qt/plugins/platforms/libqvnc.so", True), ("PySide6/Qt/plugins/generic/libqevdevmouseplugin.so", True),
     ("hypothesis-6.1.dist-info/METADATA", True), ("PySide6/Qt/plugins/platforms/libqxcb.so", False),
     ("PySide6/Qt/plugins/platforms/libqwayland.so", False), ("PySide6/Qt/plugins/platforms/libqoffscreen.so", False),
     ("torch/lib/libtorch_cpu.so", False), ("nvidia/cudnn/lib/libcudnn_cnn.so.9", False)],
)
def test_skipped_files(dest, skipped):
    assert cfg.is_skipped(dest) is skipped


EVERY_MODULE_AND_SELF_TEST = """
import importlib, pkgutil, sys
import ran_desktop
SKIP = {skip!r}
for module in pkgutil.walk_packages(ran_desktop.__path__, "ran_desktop."):
    if not module.name.endswith("__main__") and module.name not in SKIP:  # __main__ starts the app
        importlib.import_module(module.name)
qt = sorted(m for m in sys.modules if m.startswith("PySide6.Qt"))
print("Qt modules:", qt)
from ran_desktop.app import main
sys.exit(main(["--self-test", "--self-test-dir", sys.argv[1]]))
"""


def test_the_app_works_without_the_excluded_modules(tiny_bundle, tmp_path):
    """Every module of the app imports, and the self-test passes, with the excluded modules unimportable."""
    env = dict(RAN_MODELS_DIR=str(tiny_bundle.parent), RAN_DEVICE="cpu", QT_QPA_PLATFORM="offscreen")
    done = run_without(cfg.EXCLUDES, EVERY_MODULE_AND_SELF_TEST.format(skip=cfg.left_out_modules(cfg.FULL)),
                       [str(tmp_path / "out")], env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SELF-TEST PASSED" in done.stdout
    assert "Qt modules: ['PySide6.QtCore', 'PySide6.QtGui', 'PySide6.QtWidgets']" in done.stdout


# --- the spec, run with stand-ins for PyInstaller's build steps ----------------------------------------------


def run_spec(monkeypatch, tmp_path, platform: str) -> dict:
    """Execute the spec as PyInstaller would, with recording stand-ins for Analysis, PYZ, EXE, COLLECT, BUNDLE."""
    pytest.importorskip("PyInstaller")
    calls: dict = {}

    def recorder(kind):
        def record(*args, **kwargs):
            calls[kind] = SimpleNamespace(args=args, kwargs=kwargs)
            if kind == "Analysis":
                return SimpleNamespace(
                    pure=[], scripts=[],
                    binaries=[("libstdc++.so.6", "/usr/lib/libstdc++.so.6", "BINARY"),
                              ("PySide6/Qt/plugins/platforms/libqxcb.so", "/x/libqxcb.so", "BINARY"),
                              ("PySide6/Qt/plugins/platforms/libqvnc.so", "/x/libqvnc.so", "BINARY")],
                    datas=[("hypothesis-6.1.dist-info/METADATA", "/x/METADATA", "DATA"),
                           ("resources/fonts/DejaVuSans.ttf", "/x/DejaVuSans.ttf", "DATA")],
                )
            return SimpleNamespace(args=args, kwargs=kwargs)
        return record

    namespace = {name: recorder(name) for name in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE")}
    namespace.update(SPECPATH=str(INSTALLER), workpath=str(tmp_path / "work"), distpath=str(tmp_path / "dist"),
                     __name__="__main__", __file__=str(SPEC))
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "platform", platform)
    exec(compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec"), namespace)
    calls["a"] = namespace["a"]
    return calls


def test_spec_builds_a_windowed_one_folder_app_with_data_metadata_and_exclusions(monkeypatch, tmp_path):
    calls = run_spec(monkeypatch, tmp_path, "linux")
    analysis = calls["Analysis"]
    assert analysis.args[0] == [str(cfg.ENTRY_SCRIPT)] and cfg.ENTRY_SCRIPT.is_file()
    assert analysis.kwargs["excludes"] == list(cfg.EXCLUDES)
    assert set(cfg.HIDDEN_IMPORTS) <= set(analysis.kwargs["hiddenimports"])
    # Modules reached only through lazy names are named to the analysis.
    assert {"ran_desktop.engine.screening.screener", "ran_desktop.gui.performance_dialog",
            "ran_desktop.reports.validation_report"} <= set(analysis.kwargs["hiddenimports"])
    datas = analysis.kwargs["datas"]
    assert set(cfg.data_files()) <= set(datas)
    dests = {dest for _, dest in datas}
    assert any(re.fullmatch(r"ran_screening(-[\w.]+)?\.(dist|egg)-info", d) for d in dests), dests
    assert any(d.startswith("pylibjpeg_libjpeg") for d in dests)  # its entry points find the DICOM decoders
    assert analysis.kwargs["optimize"] == 0
    # Files named in SKIPPED_FILES are taken out of the analysis' results.
    a = calls["a"]
    assert [b[0] for b in a.binaries] == ["PySide6/Qt/plugins/platforms/libqxcb.so"]
    assert [d[0] for d in a.datas] == ["resources/fonts/DejaVuSans.ttf"]
    exe = calls["EXE"].kwargs
    assert exe["console"] is False and exe["name"] == cfg.EXE_NAME and exe["exclude_binaries"] is True
    assert exe["upx"] is False and exe["icon"] is None and exe["version"] is None
    assert calls["COLLECT"].kwargs["name"] == cfg.EXE_NAME
    assert "BUNDLE" not in calls


def test_spec_builds_the_cpu_variant_without_torch(monkeypatch, tmp_path):
    monkeypatch.setenv(cfg.VARIANT_ENV, cfg.CPU)
    analysis = run_spec(monkeypatch, tmp_path, "linux")["Analysis"].kwargs
    assert analysis["excludes"] == list(cfg.excludes(cfg.CPU)) and analysis["binaries"] == []
    assert "ran_desktop.engine.model.ran" not in analysis["hiddenimports"]
    assert "ran_desktop.engine.model.runtime" in analysis["hiddenimports"]
    assert any(src.endswith("model.onnx") for src, _ in analysis["datas"])


def test_spec_on_windows_sets_the_icon_and_version_resource(monkeypatch, tmp_path):
    calls = run_spec(monkeypatch, tmp_path, "win32")
    exe = calls["EXE"].kwargs
    assert exe["icon"] == [str(cfg.ICON_ICO)] and exe["console"] is False
    version_file = Path(exe["version"])
    text = version_file.read_text(encoding="utf-8")
    numbers = cfg.windows_version_tuple(pyproject_version())
    assert f"filevers={numbers}" in text and f"StringStruct('ProductVersion', '{pyproject_version()}')" in text
    assert "BUNDLE" not in calls


def test_spec_on_macos_makes_an_app_bundle(monkeypatch, tmp_path):
    calls = run_spec(monkeypatch, tmp_path, "darwin")
    bundle = calls["BUNDLE"].kwargs
    assert bundle["name"] == "RAN Screening.app" and bundle["icon"] == str(cfg.ICON_ICNS)
    assert bundle["version"] == pyproject_version() and bundle["bundle_identifier"] == cfg.BUNDLE_ID
    assert bundle["info_plist"]["CFBundleShortVersionString"] == pyproject_version()
    assert bundle["info_plist"]["NSHighResolutionCapable"] is True
    assert calls["EXE"].kwargs["icon"] == [str(cfg.ICON_ICNS)]


# --- Linux launcher, Debian package details, Inno Setup script -----------------------------------------------


def test_desktop_entry_is_valid_and_launches_the_installed_program(tmp_path):
    text = build_linux.desktop_entry("/opt/ran-screening/ran-screening", "ran-screening")
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read_string(text)
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application" and entry["Name"] == "RAN Screening" and entry["Terminal"] == "false"
    assert entry["Exec"] == "/opt/ran-screening/ran-screening %F" and entry["Icon"] == "ran-screening"
    assert "@" not in text
    validator = shutil.which("desktop-file-validate")
    if validator:
        path = tmp_path / "ran-screening.desktop"
        path.write_text(text, encoding="utf-8")
        done = subprocess.run([validator, str(path)], capture_output=True, text=True)
        assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_debian_depends_name_the_c_libraries_needed():
    depends = build_linux.debian_depends("2.34", "3.4.29")
    assert depends.startswith("libc6 (>= 2.34), libstdc++6 (>= 11), ")
    assert "libxcb-cursor0" in depends and "libgl1" in depends


def test_inno_setup_script_installs_the_pyinstaller_folder_with_shortcuts_and_uninstaller():
    iss = (INSTALLER / "windows" / "ran-screening.iss").read_text(encoding="utf-8")
    assert f'#define AppExeName "{cfg.EXE_NAME}.exe"' in iss
    assert f'#define DistDir "..\\..\\build\\installer\\dist\\{cfg.EXE_NAME}"' in iss
    assert re.search(r'^Source: "\{#DistDir\}\\\*"; DestDir: "\{app\}";.*recursesubdirs', iss, re.MULTILINE)
    assert re.search(r'^Name: "\{autoprograms\}\\\{#AppName\}"; Filename: "\{app\}\\\{#AppExeName\}"', iss, re.M)
    assert re.search(r'^Name: "\{autodesktop\}\\\{#AppName\}"; .*Tasks: desktopicon', iss, re.MULTILINE)
    assert "UninstallDisplayIcon={app}\\{#AppExeName}" in iss
    for relative in re.findall(r"=(\.\.\\\.\.\\[^\s]+)", iss):
        assert (INSTALLER / "windows" / relative.replace("\\", "/")).resolve().exists(), relative


# --- the real build (slow) -----------------------------------------------------------------------------------


def clean_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("RAN_MODELS_DIR", "PYTHONPATH", "RAN_DEVICE")}
    env.update(extra)
    return env


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="builds the Linux application")
def test_linux_build_self_tests_and_packages(tmp_path, request):
    """installer/build_linux.py builds the folder and .deb; the program from both passes --self-test."""
    if "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("builds the installer (about 5 minutes, 12 GB of disk): run with -m slow")
    out = tmp_path / "build"
    try:
        done = subprocess.run([sys.executable, str(INSTALLER / "build_linux.py"), "--out", str(out)],
                              capture_output=True, text=True, timeout=3600, cwd=ROOT)
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
        assert "SELF-TEST PASSED" in done.stdout and "loaded the model" in done.stdout
        app = out / "dist" / cfg.EXE_NAME
        internal = app / "_internal"

        # Run the built program's self-test ourselves, offscreen, with nothing from this checkout.
        check = subprocess.run([str(app / cfg.EXE_NAME), "--self-test", "--self-test-dir", str(tmp_path / "st")],
                               capture_output=True, text=True, timeout=600, cwd=tmp_path,
                               env=clean_env(QT_QPA_PLATFORM="offscreen"))
        assert check.returncode == 0, check.stdout + check.stderr
        assert f"bundle: {internal / 'models'}" in check.stdout and "program: installed build" in check.stdout
        assert len(list((tmp_path / "st" / "reports").glob("DR-report_*.pdf"))) == 1

        # Lean: what the app does not use is not there; what CUDA loads at run time is.
        top = {p.name for p in internal.iterdir()}
        for absent in ("training", "tests", "sklearn", "matplotlib", "scipy", "triton", "torchvision", "sympy",
                       "pytest", "hypothesis", "libstdc++.so.6"):
            assert absent not in top, absent
        names = {p.name for p in internal.rglob("*")}
        assert not [n for n in names if re.match(r"libQt6(Qml|Quick|WebEngine|Multimedia|3D|Network)", n)]
        assert {"libQt6Widgets.so.6", "libqxcb.so", "libqwayland.so", "libqoffscreen.so"} <= names
        if cfg.nvidia_dlopened_binaries():
            assert {"libcudnn_cnn.so.9", "libcublasLt.so.13", "libnvrtc.so.13"} <= names
            assert [n for n in names if n.startswith("libnvrtc-builtins.so")]

        # The package: metadata, menu entry, icon, the program on the PATH; unpacked elsewhere it still works.
        debs = list(out.glob(f"{cfg.EXE_NAME}_*_*.deb"))
        assert len(debs) == 1
        info = subprocess.run(["dpkg-deb", "-f", str(debs[0])], capture_output=True, text=True, check=True).stdout
        assert f"Version: {build_linux.debian_version(pyproject_version())}" in info
        assert re.search(r"^Depends: libc6 \(>= 2\.\d+\), libstdc\+\+6 \(>= \d+\)", info, re.MULTILINE)
        listing = subprocess.run(["dpkg-deb", "-c", str(debs[0])], capture_output=True, text=True, check=True).stdout
        for path in ("./opt/ran-screening/ran-screening", "./usr/share/applications/ran-screening.desktop",
                     "./usr/share/icons/hicolor/256x256/apps/ran-screening.png",
                     "./usr/share/icons/hicolor/scalable/apps/ran-screening.svg",
                     "./opt/ran-screening/_internal/models/"):
            assert f" {path}" in listing, path
        assert re.search(r"^l.* \./usr/bin/ran-screening -> /opt/ran-screening/ran-screening$", listing, re.M)
        assert not re.search(r"^-rw-------", listing, re.MULTILINE)  # every user can read every file
        shutil.rmtree(out / "dist")  # the unpacked package replaces it: keep the disk use down
        unpacked = tmp_path / "unpacked"
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(unpacked)], check=True)
        program = unpacked / "opt" / "ran-screening" / "ran-screening"
        check = subprocess.run([str(program), "--self-test", "--self-test-dir", str(tmp_path / "st2")],
                               capture_output=True, text=True, timeout=600, cwd=tmp_path,
                               env=clean_env(QT_QPA_PLATFORM="offscreen"))
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(tmp_path / "unpacked", ignore_errors=True)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="builds the Linux application")
def test_linux_cpu_build_runs_without_torch_at_a_tenth_of_the_size(tmp_path, request):
    """build_linux.py --variant cpu: no torch inside, the self-test runs the ONNX graph, the package is
    ran-screening-cpu and replaces the full one, and the folder stays within issue 22's 500 MB."""
    if "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("builds the CPU installer (about 1 minute): run with -m slow")
    out = tmp_path / "build"
    try:
        done = subprocess.run([sys.executable, str(INSTALLER / "build_linux.py"), "--variant", "cpu", "--out",
                               str(out)], capture_output=True, text=True, timeout=1800, cwd=ROOT)
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
        app = out / "dist" / cfg.EXE_NAME
        internal = app / "_internal"
        top = {p.name for p in internal.iterdir()}
        assert not top & {"torch", "nvidia", "torchvision", "triton", "ray"} and "onnxruntime" in top
        assert build_linux.tree_bytes(app) <= 500 * 1024**2
        check = subprocess.run([str(app / cfg.EXE_NAME), "--self-test", "--self-test-dir", str(tmp_path / "st")],
                               capture_output=True, text=True, timeout=600, cwd=tmp_path,
                               env=clean_env(QT_QPA_PLATFORM="offscreen"))
        assert check.returncode == 0, check.stdout + check.stderr
        assert build_linux.CPU_SELF_TEST_LINE in check.stdout and ", ONNX Runtime" in check.stdout
        debs = list(out.glob("ran-screening-cpu_*_*.deb"))
        assert len(debs) == 1
        info = subprocess.run(["dpkg-deb", "-f", str(debs[0])], capture_output=True, text=True, check=True).stdout
        assert "Package: ran-screening-cpu" in info and "Conflicts: ran-screening\n" in info
        assert "Replaces: ran-screening\n" in info and "without PyTorch" in info
    finally:
        shutil.rmtree(out, ignore_errors=True)

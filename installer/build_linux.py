"""Build RAN Screening for Linux: the PyInstaller folder, its menu launcher and icon, and a .deb; then check it.

    .venv/bin/python installer/build_linux.py                  # everything, into build/installer/
    .venv/bin/python installer/build_linux.py --no-deb         # only the folder (and its check)
    .venv/bin/python installer/build_linux.py --variant cpu    # the CPU build (no torch), into build/installer-cpu/

Run with the project's Python (the one with ran-screening, its dependencies and PyInstaller installed).

Writes, under --out (default build/installer):
  dist/ran-screening/                  the self-contained application: `ran-screening` (the program), `_internal/`
                                       (Python, Qt, torch, the model, resources), `ran-screening.png`,
                                       `ran-screening.desktop.in` and `install-launcher.sh` (a per-user menu entry
                                       for a copy run from a share or USB stick)
  ran-screening_<version>_amd64.deb    installs to /opt/ran-screening, with `ran-screening` on the PATH, the menu
                                       entry and the icon in all sizes (ran-screening-cpu_... for the CPU build)
  build-report.txt                     times, sizes and the self-test output
Then runs the built program with --self-test (no window) and starts its window offscreen until the model is
loaded; fails unless both work.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bundle_config as cfg

LINUX = cfg.INSTALLER / "linux"
SPEC = cfg.INSTALLER / "ran_screening.spec"
INSTALL_DIR = f"/opt/{cfg.EXE_NAME}"
DESKTOP_FILE = f"{cfg.EXE_NAME}.desktop"
ICON_NAME = cfg.EXE_NAME
HICOLOR_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
# A 4-5 GB folder, a .deb of about half that, and PyInstaller's work files: refuse to start with less free.
# The CPU build is a tenth of that.
MIN_FREE_BYTES = {cfg.FULL: 12 * 1024**3, cfg.CPU: 2 * 1024**3}
# The package's description of what runs the model, per build (control.in's @RUNTIME@; continuation lines of a
# Debian description start with a space).
RUNTIME_TEXT = {
    cfg.FULL: "Self-contained: Python, Qt, PyTorch (with its CUDA libraries,\n used when an NVIDIA GPU and driver "
              "are present, else the CPU) and the model\n are installed under /opt/ran-screening.",
    cfg.CPU: "The CPU build: Python, Qt, ONNX Runtime and the model are\n installed under /opt/ran-screening, without "
             "PyTorch, so it is a tenth of\n the size of the full package and never uses a GPU.",
}
SELF_TEST_TIMEOUT_S = 600
CPU_SELF_TEST_LINE = "no PyTorch (the CPU build)"  # selftest.py's environment step, where torch is not there
GUI_TIMEOUT_S = 180
DEFAULT_MAINTAINER = "RAN Screening maintainers <ran-screening@localhost>"

# System libraries the bundle expects from the target (PyInstaller leaves out libGL/libEGL and the like on purpose,
# and the Qt X11 plug-in needs a few XCB helpers it could not find on a build machine without them), by their
# Debian/Ubuntu package names. libc6 and libstdc++6 are added with the versions the bundled binaries need.
SYSTEM_DEPENDS = (
    "libgcc-s1",
    "libgl1",
    "libegl1",
    "libfontconfig1",
    "libdbus-1-3",
    "libxkbcommon0",
    "libxkbcommon-x11-0",
    "libxcb-cursor0",
    "libxcb-icccm4",
    "libxcb-keysyms1",
)
# GLIBCXX symbol version -> the GCC release whose libstdc++6 package first has it.
GLIBCXX_TO_GCC = {
    "3.4.25": "8", "3.4.26": "9", "3.4.27": "9", "3.4.28": "10", "3.4.29": "11", "3.4.30": "12",
    "3.4.31": "13", "3.4.32": "13", "3.4.33": "14", "3.4.34": "15",
}


class BuildError(Exception):
    pass


def log(message: str) -> None:
    print(f"[build] {message}", flush=True)


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    log("$ " + " ".join(cmd))
    return subprocess.run(cmd, check=True, **kwargs)


def tree_bytes(folder: Path) -> int:
    """Bytes of the regular files under `folder` (links not followed, so nothing counts twice)."""
    total = 0
    for dirpath, _dirnames, filenames in os.walk(folder):
        for name in filenames:
            path = Path(dirpath) / name
            if not path.is_symlink():
                total += path.stat().st_size
    return total


def human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{size} B"
        value /= 1024
    return f"{size} B"


# The parts of the folder the build report sizes, by their paths inside _internal/.
SIZED_PARTS = {"NVIDIA CUDA libraries": ("nvidia",), "torch": ("torch",), "ONNX Runtime": ("onnxruntime",),
               "Qt (PySide6)": ("PySide6", "shiboken6"), "OpenCV": ("cv2", "opencv_python_headless.libs"),
               "numpy": ("numpy", "numpy.libs"), "model": ("models",)}


def size_breakdown(app: Path) -> str:
    """'torch 1.1 GB, Qt (PySide6) 93.0 MB, ...' for the parts this build has."""
    internal = app / "_internal"
    sizes = {name: sum(tree_bytes(internal / part) for part in parts if (internal / part).is_dir())
             for name, parts in SIZED_PARTS.items()}
    return ", ".join(f"{name} {human(size)}" for name, size in sizes.items() if size)


def preflight(out: Path, variant: str = cfg.FULL) -> str:
    if not sys.platform.startswith("linux"):
        raise BuildError("build_linux.py builds the Linux application; see installer/README.md for Windows and macOS")
    try:
        import PyInstaller  # noqa: F401
    except ImportError as exc:
        raise BuildError(f"PyInstaller is not installed in {sys.executable}: python -m pip install pyinstaller") \
            from exc
    version = cfg.app_version()
    if not cfg.ICON_PNG.is_file() or not cfg.ICON_SVG.is_file():
        log("icons missing: drawing them (installer/make_icons.py)")
        run([sys.executable, str(cfg.INSTALLER / "make_icons.py")])
    cfg.data_files(variant=variant)  # a missing model, graph or font fails here, before minutes of analysis
    out.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(out).free
    if free < MIN_FREE_BYTES[variant]:
        raise BuildError(f"only {human(free)} free in {out}; the build needs about {human(MIN_FREE_BYTES[variant])}")
    return version


def build_folder(out: Path, variant: str = cfg.FULL) -> Path:
    dist, work = out / "dist", out / "work"
    run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
         "--distpath", str(dist), "--workpath", str(work), str(SPEC)], cwd=cfg.ROOT,
        env=dict(os.environ, **{cfg.VARIANT_ENV: variant}))
    app = dist / cfg.EXE_NAME
    if not (app / cfg.EXE_NAME).is_file():
        raise BuildError(f"PyInstaller finished but {app / cfg.EXE_NAME} is missing")
    strip_debug(app / "_internal")
    shutil.copy2(cfg.ICON_PNG, app / f"{ICON_NAME}.png")
    shutil.copy2(LINUX / "ran-screening.desktop.in", app / "ran-screening.desktop.in")
    shutil.copy2(LINUX / "install-launcher.sh", app / "install-launcher.sh")
    normalise_permissions(app)
    return app


def strip_debug(internal: Path) -> int:
    """Remove debugging information from the interpreter's own binaries (bundle_config.STRIP_DEBUG); returns the
    bytes saved."""
    files = sorted({p for pattern in cfg.STRIP_DEBUG for p in internal.glob(pattern)
                    if p.is_file() and not p.is_symlink() and _is_elf(p)})
    if not files:
        return 0
    before = sum(p.stat().st_size for p in files)
    run(["strip", "--strip-debug", *map(str, files)])
    saved = before - sum(p.stat().st_size for p in files)
    log(f"debugging information removed from {len(files)} of Python's own binaries: {human(saved)}")
    return saved


def normalise_permissions(folder: Path) -> None:
    """Folders 755, programs and libraries 755, other files 644: every user of the machine can run the app.

    A file that was private in the source tree (weights saved with mode 600, say) would otherwise be unreadable for
    everyone but root once installed from the .deb.
    """
    for dirpath, _dirnames, filenames in os.walk(folder):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_symlink():
                continue
            executable = path.stat().st_mode & stat.S_IXUSR or _is_elf(path)
            os.chmod(path, 0o755 if executable else 0o644)


def _is_elf(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) == b"\x7fELF"


def elf_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink() and _is_elf(p)]


def required_versions(folder: Path) -> tuple[str, str]:
    """The newest GLIBC and GLIBCXX symbol versions the bundled binaries ask for, read with objdump."""
    glibc: set[tuple[int, ...]] = set()
    glibcxx: set[tuple[int, ...]] = set()
    files = elf_files(folder)
    for start in range(0, len(files), 50):
        chunk = [str(p) for p in files[start:start + 50]]
        text = subprocess.run(["objdump", "-T", *chunk], capture_output=True, text=True).stdout
        glibc.update(tuple(map(int, m.split("."))) for m in re.findall(r"\bGLIBC_(\d+(?:\.\d+)+)", text))
        glibcxx.update(tuple(map(int, m.split("."))) for m in re.findall(r"\bGLIBCXX_(\d+(?:\.\d+)+)", text))
    newest_glibc = ".".join(map(str, max(glibc))) if glibc else "2.17"
    newest_glibcxx = ".".join(map(str, max(glibcxx))) if glibcxx else "3.4.25"
    return newest_glibc, newest_glibcxx


def debian_depends(glibc: str, glibcxx: str) -> str:
    gcc = GLIBCXX_TO_GCC.get(glibcxx)
    if gcc is None:  # newer than the table: ask for what this build machine has
        query = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libstdc++6"], capture_output=True, text=True)
        gcc = query.stdout.split(".")[0] or "12"
    return ", ".join([f"libc6 (>= {glibc})", f"libstdc++6 (>= {gcc})", *SYSTEM_DEPENDS])


def deb_arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def desktop_entry(exec_path: str, icon: str) -> str:
    template = (LINUX / "ran-screening.desktop.in").read_text(encoding="utf-8")
    return template.replace("@EXEC@", exec_path).replace("@TRYEXEC@", exec_path).replace("@ICON@", icon)


def _link_tree(src: Path, dst: Path) -> None:
    """Copy `src` to `dst` with hard links (no second 4 GB on disk), symlinks kept as symlinks."""
    try:
        shutil.copytree(src, dst, symlinks=True, copy_function=os.link)
    except OSError:  # another file system: copy for real
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst, symlinks=True)


def build_deb(app: Path, out: Path, version: str, maintainer: str, compression: str,
              variant: str = cfg.FULL) -> Path:
    arch = deb_arch()
    root = out / "work" / "deb-root"
    shutil.rmtree(root, ignore_errors=True)
    opt = root / INSTALL_DIR.lstrip("/")
    opt.parent.mkdir(parents=True)
    _link_tree(app, opt)

    bin_dir = root / "usr" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / cfg.EXE_NAME).symlink_to(f"{INSTALL_DIR}/{cfg.EXE_NAME}")

    apps = root / "usr" / "share" / "applications"
    apps.mkdir(parents=True)
    (apps / DESKTOP_FILE).write_text(desktop_entry(f"{INSTALL_DIR}/{cfg.EXE_NAME}", ICON_NAME), encoding="utf-8")

    hicolor = root / "usr" / "share" / "icons" / "hicolor"
    for size in HICOLOR_SIZES:
        folder = hicolor / f"{size}x{size}" / "apps"
        folder.mkdir(parents=True)
        shutil.copy2(cfg.ICONS / f"ran-screening-{size}.png", folder / f"{ICON_NAME}.png")
    (hicolor / "scalable" / "apps").mkdir(parents=True)
    shutil.copy2(cfg.ICON_SVG, hicolor / "scalable" / "apps" / f"{ICON_NAME}.svg")

    doc = root / "usr" / "share" / "doc" / cfg.EXE_NAME
    doc.mkdir(parents=True)
    shutil.copy2(cfg.ROOT / "LICENSE", doc / "copyright")

    glibc, glibcxx = required_versions(app)
    log(f"bundled binaries need GLIBC {glibc} and GLIBCXX {glibcxx}")
    control_dir = root / "DEBIAN"
    control_dir.mkdir()
    installed_kb = (tree_bytes(root) + 1023) // 1024
    control = (LINUX / "control.in").read_text(encoding="utf-8")
    package = cfg.package_name(variant)
    for key, value in {
        "@PACKAGE@": package,
        "@OTHER@": ", ".join(cfg.package_name(v) for v in cfg.VARIANTS if v != variant),
        "@RUNTIME@": RUNTIME_TEXT[variant],
        "@VERSION@": debian_version(version),
        "@ARCH@": arch,
        "@MAINTAINER@": maintainer,
        "@INSTALLED_SIZE@": str(installed_kb),
        "@DEPENDS@": debian_depends(glibc, glibcxx),
    }.items():
        control = control.replace(key, value)
    (control_dir / "control").write_text(control, encoding="utf-8")
    for script in ("postinst", "postrm"):
        shutil.copy2(LINUX / script, control_dir / script)
    normalise_permissions(root / "usr")
    for path in [*control_dir.iterdir()]:
        os.chmod(path, 0o755 if path.name in ("postinst", "postrm") else 0o644)
    os.chmod(control_dir, 0o755)
    for parent in [root, root / "opt", root / "usr", root / "usr" / "share"]:
        os.chmod(parent, 0o755)

    deb = out / f"{package}_{debian_version(version)}_{arch}.deb"
    deb.unlink(missing_ok=True)
    level = {"gzip": ["-z6"], "xz": ["-z6"], "zstd": ["-z19"], "none": []}[compression]
    run(["dpkg-deb", "--root-owner-group", f"-Z{compression}", *level, "--build", str(root), str(deb)])
    shutil.rmtree(root)
    return deb


def debian_version(version: str) -> str:
    """PEP 440 to Debian: a pre-release sorts before its release with '~' (1.0rc1 -> 1.0~rc1, 1.0.dev2 -> 1.0~dev2)."""
    public, plus, local = version.partition("+")
    return re.sub(r"\.?(a|b|rc|dev)(\d*)$", r"~\1\2", public) + plus + local


def self_test(program: Path, out: Path, variant: str = cfg.FULL) -> tuple[str, float]:
    """Run the built program's --self-test offscreen, with only the bundled model; returns its output and time. The
    CPU build must say it runs without PyTorch."""
    env = {k: v for k, v in os.environ.items() if k not in ("RAN_MODELS_DIR", "PYTHONPATH", "PYTHONHOME")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    target = Path(tempfile.mkdtemp(prefix="self-test-", dir=out))
    started = time.perf_counter()
    done = subprocess.run([str(program), "--self-test", "--self-test-dir", str(target)], env=env,
                          capture_output=True, text=True, timeout=SELF_TEST_TIMEOUT_S)
    seconds = time.perf_counter() - started
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise BuildError(f"the built program's self-test failed (exit {done.returncode}):\n{output}")
    if variant == cfg.CPU and CPU_SELF_TEST_LINE not in output:
        raise BuildError(f"the CPU build's self-test does not say it runs without PyTorch:\n{output}")
    return output, seconds


def gui_smoke_test(program: Path, out: Path, timeout_s: float = GUI_TIMEOUT_S) -> float:
    """Start the built program's window offscreen and wait until it has loaded the model; returns the seconds.

    Fails when the program exits early (a missing Qt plug-in or library ends it at once) or never loads the model.
    """
    data = Path(tempfile.mkdtemp(prefix="gui-data-", dir=out))
    env = {k: v for k, v in os.environ.items() if k not in ("RAN_MODELS_DIR", "PYTHONPATH", "PYTHONHOME")}
    env.update(QT_QPA_PLATFORM="offscreen", RAN_DATA_DIR=str(data))
    log_file = data / "logs" / "ran-desktop.log"
    started = time.perf_counter()
    proc = subprocess.Popen([str(program)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        while time.perf_counter() - started < timeout_s:
            if proc.poll() is not None:
                raise BuildError(f"the built program's window closed by itself (exit {proc.returncode}):\n"
                                 f"{proc.stdout.read() if proc.stdout else ''}")
            text = log_file.read_text(encoding="utf-8", errors="replace") if log_file.is_file() else ""
            if "loaded from" in text:
                return time.perf_counter() - started
            if " ERROR " in text:
                raise BuildError(f"the built program logged an error while starting:\n{text}")
            time.sleep(0.5)
        raise BuildError(f"the built program's window did not load the model within {timeout_s:.0f} s")
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(data, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Linux application folder and .deb, then self-test it.")
    parser.add_argument("--out", type=Path, help="output folder (default build/installer, build/installer-cpu for "
                                                 "the CPU build)")
    parser.add_argument("--variant", choices=cfg.VARIANTS, default=cfg.FULL,
                        help="full: PyTorch with CUDA (GPU or CPU); cpu: no torch, ONNX Runtime on the CPU, a tenth "
                             "of the size")
    parser.add_argument("--no-deb", action="store_true", help="build the folder only")
    parser.add_argument("--compression", choices=("gzip", "xz", "zstd", "none"), default="gzip",
                        help="the .deb's compression (gzip: every dpkg reads it; xz: smaller, much slower)")
    parser.add_argument("--maintainer", default=os.environ.get("DEBEMAIL") and
                        f"{os.environ.get('DEBFULLNAME', 'RAN Screening maintainers')} <{os.environ['DEBEMAIL']}>"
                        or DEFAULT_MAINTAINER, help="the .deb's Maintainer field")
    parser.add_argument("--no-check", action="store_true", help="skip running the built program's self-test")
    parser.add_argument("--keep-work", action="store_true", help="keep PyInstaller's work folder")
    args = parser.parse_args(argv)
    variant = args.variant
    out = (args.out or cfg.ROOT / "build" / ("installer" if variant == cfg.FULL else f"installer-{variant}")).resolve()
    times: dict[str, float] = {}
    try:
        version = preflight(out, variant)
        log(f"building {cfg.APP_NAME} {version} ({variant} build) into {out}")
        started = time.perf_counter()
        app = build_folder(out, variant)
        times["pyinstaller"] = time.perf_counter() - started
        report = [f"{cfg.APP_NAME} {version} for Linux ({platform.machine()}), {variant} build",
                  f"folder: {app} ({human(tree_bytes(app))}), PyInstaller {times['pyinstaller']:.0f} s",
                  f"of which: {size_breakdown(app)}"]
        if not args.no_check:
            output, seconds = self_test(app / cfg.EXE_NAME, out, variant)
            times["self-test"] = seconds
            print(output, end="", flush=True)
            report.append(f"self-test of the built program: passed in {seconds:.0f} s")
            seconds = gui_smoke_test(app / cfg.EXE_NAME, out)
            times["window"] = seconds
            report.append(f"window started offscreen and loaded the model in {seconds:.0f} s")
        if not args.no_deb:
            started = time.perf_counter()
            deb = build_deb(app, out, version, args.maintainer, args.compression, variant)
            times["deb"] = time.perf_counter() - started
            report.append(f"package: {deb} ({human(deb.stat().st_size)}, {args.compression}), "
                          f"{times['deb']:.0f} s")
        if not args.keep_work:
            shutil.rmtree(out / "work", ignore_errors=True)
    except (BuildError, cfg.BuildConfigError) as exc:
        log(f"FAILED: {exc}")
        return 1
    except subprocess.CalledProcessError as exc:
        log(f"FAILED: {' '.join(map(str, exc.cmd))} exited with {exc.returncode}")
        return 1
    report.append(f"total {sum(times.values()):.0f} s")
    (out / "build-report.txt").write_text("\n".join(report) + "\n", encoding="utf-8")
    for line in report:
        log(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())

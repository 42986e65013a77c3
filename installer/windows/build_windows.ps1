# Build RAN Screening for Windows: the PyInstaller folder, its self-test, then the Inno Setup program.
#
#   powershell -ExecutionPolicy Bypass -File installer\windows\build_windows.ps1
#
# Run from anywhere in the checkout. Needs: the project's virtual environment (py -3.11 scripts\bootstrap.py),
# PyInstaller in it (.venv\Scripts\python -m pip install pyinstaller) and Inno Setup 6.3+ (ISCC.exe on the PATH or
# in its default folder). -SkipSetup stops after the folder; -Python points at another interpreter; -Variant cpu
# builds the CPU build (no torch: the model's ONNX graph on ONNX Runtime) into build\installer-cpu.
param(
    [switch]$SkipSetup,
    [string]$Python = "",
    [ValidateSet("full", "cpu")][string]$Variant = "full"
)
$ErrorActionPreference = "Stop"
$Root = (Resolve-Path "$PSScriptRoot\..\..").Path
Set-Location $Root
if (-not $Python) { $Python = Join-Path $Root ".venv\Scripts\python.exe" }
if (-not (Test-Path $Python)) { throw "No Python at ${Python}: run 'py -3.11 scripts\bootstrap.py' first" }

& $Python -c "import PyInstaller" 2>$null
if ($LASTEXITCODE -ne 0) { throw "PyInstaller is not installed: $Python -m pip install pyinstaller" }
$Version = (& $Python -c "import importlib.metadata as m; print(m.version('ran-screening'))").Trim()
if ($LASTEXITCODE -ne 0) { throw "ran-screening is not installed in ${Python}" }
if (-not (Test-Path "resources\icons\ran-screening.ico")) { & $Python installer\make_icons.py }

$Out = Join-Path $Root $(if ($Variant -eq "full") { "build\installer" } else { "build\installer-$Variant" })
$env:RAN_BUILD_VARIANT = $Variant
$Started = Get-Date
& $Python -m PyInstaller --noconfirm --clean --log-level WARN --distpath "$Out\dist" --workpath "$Out\work" `
    installer\ran_screening.spec
if ($LASTEXITCODE -ne 0) { throw "PyInstaller failed" }
$Exe = Join-Path $Out "dist\ran-screening\ran-screening.exe"
Write-Host ("PyInstaller: {0:N0} s" -f ((Get-Date) - $Started).TotalSeconds)

# The program is windowed (no console), so wait for it and read its log file instead of its output.
$TestDir = Join-Path $Out "self-test"
Remove-Item -Recurse -Force $TestDir -ErrorAction SilentlyContinue
$env:RAN_MODELS_DIR = $null
$Proc = Start-Process -FilePath $Exe -ArgumentList "--self-test", "--self-test-dir", "`"$TestDir`"" -Wait -PassThru
Get-Content (Join-Path $TestDir "self-test.log")
if ($Proc.ExitCode -ne 0) { throw "The built program's self-test failed (exit $($Proc.ExitCode))" }
if ($Variant -eq "cpu" -and -not (Select-String -Quiet -SimpleMatch "no PyTorch (the CPU build)" (Join-Path $TestDir "self-test.log"))) {
    throw "The CPU build's self-test does not say it runs without PyTorch"
}

$Size = (Get-ChildItem -Recurse -File (Join-Path $Out "dist\ran-screening") | Measure-Object -Sum Length).Sum
Write-Host ("Folder: {0} ({1:N1} GB)" -f (Split-Path $Exe), ($Size / 1GB))
if ($SkipSetup) { exit 0 }

$Iscc = (Get-Command ISCC.exe -ErrorAction SilentlyContinue).Source
if (-not $Iscc) {
    foreach ($Candidate in @("${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe", "$env:ProgramFiles\Inno Setup 6\ISCC.exe",
                             "$env:LOCALAPPDATA\Programs\Inno Setup 6\ISCC.exe")) {
        if (Test-Path $Candidate) { $Iscc = $Candidate; break }
    }
}
if (-not $Iscc) { throw "Inno Setup's ISCC.exe was not found: install Inno Setup 6.3 or newer (https://jrsoftware.org)" }
$Started = Get-Date
$Suffix = $(if ($Variant -eq "full") { "" } else { "-$Variant" })
& $Iscc "/DAppVersion=$Version" "/DVariantSuffix=$Suffix" "/DDistDir=$Out\dist\ran-screening" "/DOutputDir=$Out" `
    installer\windows\ran-screening.iss
if ($LASTEXITCODE -ne 0) { throw "Inno Setup failed" }
Write-Host ("Setup: {0}\RAN-Screening-{1}{2}-setup.exe ({3:N0} s)" -f $Out, $Version, $Suffix, ((Get-Date) - $Started).TotalSeconds)

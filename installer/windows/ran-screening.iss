; Inno Setup script: turns the PyInstaller folder dist\ran-screening\ into RAN-Screening-<version>-setup.exe, with
; Start-menu and (optional) desktop shortcuts and an uninstaller. Build it on Windows, after PyInstaller:
;
;   iscc /DAppVersion=0.1.0 installer\windows\ran-screening.iss
;
; (installer\windows\build_windows.ps1 does both steps and passes the version from the package metadata.)
; Paths are relative to this file. Needs Inno Setup 6.3 or newer (x64compatible).

#ifndef AppVersion
  #error Pass the version: iscc /DAppVersion=<version> installer\windows\ran-screening.iss
#endif
#ifndef DistDir
  #define DistDir "..\..\build\installer\dist\ran-screening"
#endif
#ifndef OutputDir
  #define OutputDir "..\..\build\installer"
#endif
; "-cpu" for the CPU build (build_windows.ps1 -Variant cpu): the same app and AppId, so either replaces the other.
#ifndef VariantSuffix
  #define VariantSuffix ""
#endif

#define AppName "RAN Screening"
#define AppExeName "ran-screening.exe"
#define AppPublisher "RAN Screening project"

[Setup]
; A fixed AppId lets a newer setup upgrade an installed version in place (and the uninstaller find it).
AppId={{6B1D5C3E-2F7A-4E8B-9C51-7A0D3E4F8B21}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher={#AppPublisher}
VersionInfoVersion={#AppVersion}
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
; Per-machine install by default (all clinic users); the dialog lets someone without admin rights install for
; themselves instead.
PrivilegesRequired=admin
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir={#OutputDir}
OutputBaseFilename=RAN-Screening-{#AppVersion}{#VariantSuffix}-setup
SetupIconFile=..\..\resources\icons\ran-screening.ico
UninstallDisplayIcon={app}\{#AppExeName}
UninstallDisplayName={#AppName} {#AppVersion}
LicenseFile=..\..\LICENSE
; torch's libraries are large; LZMA2 in solid mode makes the smallest setup. "lzma2/fast" builds much faster.
Compression=lzma2/max
SolidCompression=yes
LZMANumBlockThreads=4
; The app's data (sessions, settings, logs) lives in the user's profile, not here: uninstalling leaves it alone.
WizardStyle=modern
CloseApplications=yes
RestartApplications=no

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"

[Files]
Source: "{#DistDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExeName}"; Comment: "Diabetic retinopathy screening"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExeName}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExeName}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Python byte-code caches the app may have written next to itself.
Type: filesandordirs; Name: "{app}\_internal\__pycache__"

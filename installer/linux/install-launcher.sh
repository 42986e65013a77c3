#!/bin/sh
# Adds RAN Screening to this user's application menu, run from wherever this folder is (a copy on a share or a
# USB stick, without installing the .deb). `./install-launcher.sh --remove` takes the menu entry away again.
set -e
here=$(cd "$(dirname "$0")" && pwd)
apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
entry="$apps/ran-screening.desktop"
if [ "$1" = "--remove" ]; then
    rm -f "$entry"
    echo "Removed $entry"
    exit 0
fi
mkdir -p "$apps"
sed -e "s|@EXEC@|\"$here/ran-screening\"|" -e "s|@TRYEXEC@|$here/ran-screening|" -e "s|@ICON@|$here/ran-screening.png|" \
    "$here/ran-screening.desktop.in" > "$entry.tmp"
chmod 644 "$entry.tmp"
mv "$entry.tmp" "$entry"
if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database -q "$apps" || true
fi
echo "Added RAN Screening to the application menu ($entry)"

#!/usr/bin/env bash
# Packs, for a lent GPU machine, the Python packages its image lacks (its Python is 3.12 with torch; it cannot reach
# a package index): .device/deps312.tar.xz, about 7 MB. A device call carries at most 64 MiB with the tracked tree
# (about 56 MiB), so the pack is trimmed: no bytecode or tests, SQLAlchemy without its optional compiled speed-ups
# (it falls back to pure Python), the rest stripped of debugging symbols.
# Run here with network access to the package index; then carry `.device` (see gpu_checks.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
pip=${PIP:-.venv/bin/pip}
site=$(mktemp -d)/site312
"$pip" install --quiet --target "$site" --python-version 3.12 --only-binary=:all: \
  --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --no-deps \
  "SQLAlchemy>=2.0" alembic Mako MarkupSafe platformdirs "jsonschema>=4.0" referencing rpds-py \
  jsonschema-specifications attrs "kornia>=0.8,<0.10" kornia_rs typing_extensions
find "$site" \( -name __pycache__ -o -name tests \) -prune -exec rm -rf {} +
find "$site/sqlalchemy" -name "*.so" -delete
find "$site" -name "*.so" -exec strip --strip-unneeded {} \;
mkdir -p .device
tar cJf .device/deps312.tar.xz -C "$(dirname "$site")" site312
rm -rf "$(dirname "$site")"
ls -la .device/deps312.tar.xz

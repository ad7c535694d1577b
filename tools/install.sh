#!/usr/bin/env bash
# Install the kernel and every bundled plugin (editable) plus the test tools
# into the active Python environment. Used by ./dev and tox.
set -euo pipefail
cd "$(dirname "$0")/.."
args=(-e core)
for d in plugins/*/ plugins-contrib/*/; do
    [ -f "$d/pyproject.toml" ] && args+=(-e "${d%/}")
done
python -m pip install --quiet --disable-pip-version-check -c constraints.txt -r requirements-test.txt "${args[@]}"

#!/usr/bin/env bash
# Install the kernel and every bundled plugin (editable) plus the test tools
# into the active Python environment. Used by ./dev and tox.
#
# Each successful install refreshes a wheelhouse of exactly what it installed
# (${CUMULO_WHEELHOUSE:-~/.cache/cumulo/wheelhouse}); when the package index
# cannot be reached, the install is retried from that wheelhouse alone, so a
# machine that installed once can reinstall (a fresh checkout, CI) offline.
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELHOUSE="${CUMULO_WHEELHOUSE:-$HOME/.cache/cumulo/wheelhouse}"
args=(-e core)
for d in plugins/*/ plugins-contrib/*/; do
    [ -f "$d/pyproject.toml" ] && args+=(-e "${d%/}")
done
# pip's own noise (the machine's missing extra indexes, setuptools' editable-install banner) is left out.
quiet() {
    grep -a -v -e "^WARNING: Location" -e "BuildBackendWarning" -e "^ *!!" -e "^ *\*\*\*" -e "Please be careful" \
        -e "name as your package" -e "with strategy, WheelFile" -e "^ *$" /tmp/cumulo-pip.log >&2 || true
}
pip_install() {
    python -m pip install --quiet --disable-pip-version-check "$@" -c constraints.txt -r requirements-test.txt \
        "${args[@]}" 2>/tmp/cumulo-pip.log
}
# Whether pip's package index answers (a few seconds; pip itself would retry every package for minutes).
index_answers() {
    python - <<'PY'
import os, subprocess, sys, urllib.request
url = os.environ.get("PIP_INDEX_URL") or subprocess.run(
    [sys.executable, "-m", "pip", "config", "get", "global.index-url"], capture_output=True, text=True
).stdout.strip() or "https://pypi.org/simple/"
try:
    urllib.request.urlopen(url.rstrip("/") + "/pip/", timeout=10).close()
except Exception as err:
    sys.exit(f"{url}: {err}")
PY
}
if [ -f "$WHEELHOUSE/installed.txt" ] && ! index_answers 2>/tmp/cumulo-index.log; then
    echo "The package index does not answer ($(tail -1 /tmp/cumulo-index.log)); installing from the offline wheelhouse $WHEELHOUSE ..." >&2
    pip_install --no-index --find-links "$WHEELHOUSE" || { quiet; exit 1; }
    quiet
    exit 0
fi
if pip_install --find-links "$WHEELHOUSE"; then
    quiet
elif [ -f "$WHEELHOUSE/installed.txt" ]; then
    quiet
    echo "pip could not install from the package index; retrying from the offline wheelhouse $WHEELHOUSE ..." >&2
    pip_install --no-index --find-links "$WHEELHOUSE" || { quiet; exit 1; }
    quiet
    exit 0
else
    quiet
    exit 1
fi
# What was installed, as wheels (pip's cache makes this quick; only a changed set is fetched or built).
lock="$(python -m pip freeze --exclude-editable --disable-pip-version-check 2>/dev/null | grep -v '^-e ' || true)"
if [ -n "$lock" ] && [ "$lock" != "$(cat "$WHEELHOUSE/installed.txt" 2>/dev/null)" ]; then
    mkdir -p "$WHEELHOUSE"
    if printf '%s\n' "$lock" pip setuptools wheel \
        | python -m pip wheel --quiet --disable-pip-version-check --find-links "$WHEELHOUSE" -w "$WHEELHOUSE" \
            -r /dev/stdin >/tmp/cumulo-wheelhouse.log 2>&1; then
        printf '%s\n' "$lock" > "$WHEELHOUSE/installed.txt"
    else
        echo "note: could not refresh the offline wheelhouse $WHEELHOUSE (see /tmp/cumulo-wheelhouse.log)" >&2
    fi
fi

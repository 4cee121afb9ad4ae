#!/usr/bin/env bash
# Bootstrap the project's environments on a fresh machine.
#   .tools/   a small venv holding uv (the installer), unless uv is already on PATH
#   .venv/    the app + dev environment, installed from uv.lock (frozen)
# aws-sam-cli and checkov pin old boto3/cfn-lint versions, so they never share
# .venv: the Makefile runs them through `uv tool run` in their own environments.
# Prints nothing but errors; idempotent and fast when everything is in place.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.8

find_python313() {
  # python3.13 on PATH may be a pyenv shim that fails unless PYENV_VERSION is set:
  # accept it only if it actually runs.
  if command -v python3.13 >/dev/null 2>&1 && python3.13 -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then
    python3.13 -c 'import sys; print(sys.executable)'; return
  fi
  local root
  root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
  for p in "$root"/versions/3.13*/bin/python3.13; do
    [ -x "$p" ] && { echo "$p"; return; }
  done
  # Last resort: a uv-managed interpreter (downloads it on a laptop with internet).
  "$(uv_bin)" python find 3.13 2>/dev/null || { "$(uv_bin)" python install 3.13 >&2 && "$(uv_bin)" python find 3.13; }
}

uv_bin() {
  if command -v uv >/dev/null 2>&1; then command -v uv; return; fi
  if [ ! -x .tools/bin/uv ]; then
    local py
    py=$(command -v python3 || command -v python)
    "$py" -m venv .tools >&2
    .tools/bin/pip install --quiet --disable-pip-version-check "uv==${UV_VERSION}" >&2
  fi
  echo "$PWD/.tools/bin/uv"
}

case "${1:-sync}" in
  python) find_python313 ;;
  uv) uv_bin ;;
  sync)
    UV=$(uv_bin)
    PY=$(find_python313)
    "$UV" sync --frozen --quiet --python "$PY"
    ;;
esac

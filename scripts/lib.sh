# shellcheck shell=bash
# Shared by the scripts: pick a Python that may install packages, and install this project.
# On a distribution Python marked externally managed, a .venv beside the project is used.
pick_python() {
  PY=${PYTHON:-python3}
  if [ -n "${VIRTUAL_ENV:-}" ]; then return; fi
  if "$PY" - <<'PYEOF'
import os, sys, sysconfig
sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")) else 1)
PYEOF
  then
    if [ ! -x .venv/bin/python ] && ! "$PY" -m venv .venv >/dev/null 2>&1; then
      # Debian ships venv apart from Python
      local sudo=""
      [ "$(id -u)" = 0 ] || sudo="sudo"
      rm -rf .venv
      $sudo apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >/dev/null
      "$PY" -m venv .venv
    fi
    PY=.venv/bin/python
  fi
}

install_project() {  # $1: the lock, "runtime" or "test" (requirements/$1.txt)
  # every dependency (the build backend too) from the hash lock, then the project alone:
  # nothing is installed that the lock does not name with its sha256
  {
    "$PY" -m pip install -q --disable-pip-version-check --require-hashes --no-deps -r "requirements/$1.txt" &&
      "$PY" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
  } 2>&1 | { grep -v -i "running pip as" || true; }
  return "${PIPESTATUS[0]}"
}

missing_debian_packages() {  # prints the packages of scripts/debian-packages not installed
  local p
  grep -v '^#' scripts/debian-packages | while read -r p; do
    [ -n "$p" ] || continue
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || echo "$p"
  done
}

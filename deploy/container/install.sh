#!/bin/sh
# The image's install steps. deploy/container/Dockerfile runs them (with PIP_NO_CACHE_DIR=1);
# tests/deploy runs the same script on the host, so `make test` checks them without a
# container engine.
#   install.sh wheels SRC WHEELS     the package's wheel and its runtime dependencies' wheels
#   install.sh install WHEELS VENV   a fresh venv with the package from WHEELS only (no index)
set -eu
case "${1:-}" in
  wheels)
    python3 -m pip wheel --quiet --wheel-dir "$3" "$2[postgres]"
    ;;
  install)
    python3 -m venv "$3"
    "$3/bin/python" -m pip install --quiet --no-index --find-links "$2" \
      "upskill-connector[postgres]"
    "$3/bin/upskill" --version
    ;;
  *)
    echo "usage: install.sh wheels SRC WHEELS | install.sh install WHEELS VENV" >&2
    exit 2
    ;;
esac

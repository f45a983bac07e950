#!/usr/bin/env bash
# Installs Schemathesis, pinned, into a virtualenv in the tools folder (test/contract uses it).
set -euo pipefail
VERSION=4.32.5
TOOLS_DIR="${SIGNUP_FLOW_TOOLS_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/.tools}"
VENV="$TOOLS_DIR/schemathesis-$VERSION"
if [ -f "$VENV/.installed" ]; then
  echo "schemathesis $VERSION already installed: $VENV"
  exit 0
fi
command -v python3 >/dev/null ||
  { echo "Schemathesis needs python3 with venv (Debian: apt-get install python3-venv)" >&2; exit 1; }
# A virtualenv records its own path, so it is built where it stays; .installed marks a finished one.
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION"
"$VENV/bin/schemathesis" --version | grep -q "$VERSION"
touch "$VENV/.installed"
echo "installed schemathesis $VERSION: $VENV"

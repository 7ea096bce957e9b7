#!/usr/bin/env bash
# The test command: set up, build, run the whole suite.
# With --sanitize (or DEEPGEN_SANITIZE=1) it then builds the clang ASan+UBSan tree build-san/
# (scripts/fuzz.sh --build) and runs its ctest labels fuzz and sanitize there.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sanitize="${DEEPGEN_SANITIZE:-0}"
if [ "${1:-}" = "--sanitize" ]; then
  sanitize=1
  shift
fi
"$here/scripts/setup.sh"
"$here/scripts/build.sh"
cd "$here/build"
ctest --output-on-failure -j 2 "$@"
if [ "$sanitize" = 1 ]; then
  "$here/scripts/fuzz.sh" --build
  cd "$here/build-san"
  ctest --output-on-failure -j 2 -L 'fuzz|sanitize'
fi

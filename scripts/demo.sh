#!/usr/bin/env bash
# The main job: set up, build, then train + sample + evaluate + report (deepgen demo).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/setup.sh"
"$here/scripts/build.sh"
"$here/build/bin/deepgen" demo --out "${1:-$here/runs/demo}"

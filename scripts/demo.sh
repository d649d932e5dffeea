#!/usr/bin/env bash
# The main job, from a fresh Debian machine: installs dependencies, builds, and runs the demo
# (PHP dispatches, a native hurah worker hosting PHP handlers handles the tasks).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
make demo

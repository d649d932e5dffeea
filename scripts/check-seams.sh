#!/usr/bin/env bash
# Checks the seams of the tree that no compiler enforces:
# 1. clap (like anything only the command line needs) is a dependency of the CLI crate (cli/)
#    alone, never of the core, so never of hurah.so or libhurah;
# 2. php/src has no import cycle between the handler, the worker and their run loop: run.rs
#    uses neither handler.rs nor worker.rs, and handler.rs does not use worker.rs;
# 3. the extension throws no bare \Exception: PHP exceptions are made in php/src/exceptions.rs
#    only (its one mapping from core error kinds, and helpers for the extension's own errors);
# 4. the two backends of the core (src/file, src/pg) import nothing of each other, and the
#    seam (src/backend.rs) names neither: src/open.rs alone picks one (docs/ARCHITECTURE.md).
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for pkg in hurah hurah-php; do
  if cargo tree -q -p "$pkg" -e normal --prefix none | grep -E '^clap(_[a-z]+)? '; then
    echo "check-seams: $pkg depends on clap (it belongs to the CLI crate only)" >&2
    status=1
  fi
done
uses() { # FILE MODULE...: FILE must not name crate::MODULE
  local file=php/src/$1.rs; shift
  if [ ! -f "$file" ]; then echo "check-seams: $file is missing" >&2; status=1; return; fi
  for m in "$@"; do
    if grep -nE "crate::$m\b" "$file"; then
      echo "check-seams: $file uses crate::$m (import cycle in php/src)" >&2
      status=1
    fi
  done
}
uses run handler worker
uses handler worker
if grep -nE 'PhpException::(from_message|default|new)|ce::exception\(' php/src/*.rs | grep -v '^php/src/exceptions\.rs:'; then
  echo "check-seams: php/src throws a bare exception (above); use crate::exceptions" >&2
  status=1
fi
if grep -rnE 'crate::pg\b|hurah::pg\b' src/file; then
  echo "check-seams: src/file uses the PostgreSQL backend" >&2; status=1
fi
if grep -rnE 'crate::file\b|hurah::file\b' src/pg; then
  echo "check-seams: src/pg uses the file backend" >&2; status=1
fi
if grep -nE 'crate::(file|pg)\b' src/backend.rs; then
  echo "check-seams: the seam src/backend.rs names a backend" >&2; status=1
fi
[ "$status" = 0 ] && echo "check-seams: OK (no clap in the core or the extension; no handler/worker/run cycle; no bare exception from the extension; neither backend imports the other)"
exit $status

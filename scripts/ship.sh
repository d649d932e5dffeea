#!/usr/bin/env bash
# Copies a cargo artifact into build/ without its debug info, for installing: a shared object
# or an executable gets its debug info in DEST.debug, found by gdb/perf through the
# .gnu_debuglink section; a static library (.a) is stripped of debug info only (the
# unstripped one stays in target/). Does nothing when DEST is newer than SRC, so a no-op
# `make build` stays a no-op.
#
#   scripts/ship.sh SRC DEST
set -euo pipefail
src=$1 dest=$2
if [ -f "$dest" ] && [ "$dest" -nt "$src" ]; then
  exit 0
fi
tmp="$dest.tmp.$$"
trap 'rm -f "$tmp"' EXIT
case "$dest" in
  *.a)
    strip --strip-debug -o "$tmp" "$src"
    ;;
  *)
    objcopy --only-keep-debug "$src" "$dest.debug"
    objcopy --strip-debug --add-gnu-debuglink="$dest.debug" "$src" "$tmp"
    ;;
esac
chmod --reference="$src" "$tmp"
mv -f "$tmp" "$dest"
echo "shipped $dest ($(du -h "$dest" | cut -f1), stripped of debug info)"

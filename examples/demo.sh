#!/usr/bin/env bash
# The demo: PHP dispatches events, a native hurah worker (inotify, in one PHP process) runs the
# PHP handlers, then the queue is shown with `hurah status` and `ls`.
set -euo pipefail
cd "$(dirname "$0")/.."
PHP=(php -n -d extension="$PWD/build/hurah.so")
root=$(mktemp -d /tmp/hurah-demo.XXXXXX)/events
# Only a worker still running is killed (never `kill 0`: that is the whole process group).
trap 'if [ -n "${worker:-}" ]; then kill "$worker" 2>/dev/null || true; fi' EXIT

echo "== queue root: $root"
echo "== starting a worker: two PHP handlers in one process, sleeping on inotify"
"${PHP[@]}" examples/demo/worker.php "$root" &
worker=$!
# The worker registers its listeners when it constructs the handlers.
for _ in $(seq 100); do
  [ -d "$root/product/stored/thumbnailer_listener/inbox" ] && [ -d "$root/audit_listener/inbox" ] && break
  sleep 0.05
done

echo "== dispatching from another PHP process"
"${PHP[@]}" examples/demo/dispatch.php "$root"

wait "$worker"
worker=
echo
echo "== hurah status"
build/hurah status "$root"
echo
echo "== the queue on disk"
(cd "$root" && find . -name '*.json' | sort)
echo
echo "== an error file keeps the reason:"
cat "$root"/product/stored/thumbnailer_listener/error/*.json; echo

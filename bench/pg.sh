#!/usr/bin/env bash
# make bench-pg (and the last part of make bench): the PostgreSQL backend driven from PHP —
# dispatch/s (Dispatcher::dispatch() and PDO hurah.dispatch() batched in one transaction),
# tasks/s with 1, 2 and 4 watching PHP worker processes (drain, and while one PHP producer
# dispatches), wake latency, each with synchronous_commit on and off — next to the Rust core's
# figures (examples/pg_bench) from the same run. Prints the Markdown section
# "## PostgreSQL backend (from PHP)" on stdout (bench/run.sh appends it to BENCHMARKS.md).
# Asserts no timing. Needs a server: $HURAH_TEST_PG (default
# postgresql://postgres@127.0.0.1:5432/postgres) must allow CREATE DATABASE; the run works in
# its own database and drops it. Needs PDO pgsql (php8.2-pgsql, scripts/setup.sh installs it).
# Sizes (environment): PG_SINGLE, PG_NEW, PG_BATCHED, PG_BATCHES, PG_TP_N, PG_E2E_N, PG_WAKE_N,
# PG_WAKE_GAP_US, PG_RUST (0: skip the Rust figures), PG_RUST_TASKS, PG_FRESH (0: skip the
# fresh-table diagnostic).
set -euo pipefail
cd "$(dirname "$0")/.."
ADMIN=${HURAH_TEST_PG:-postgresql://postgres@127.0.0.1:5432/postgres}
PG_SINGLE=${PG_SINGLE:-500}        # dispatch() calls on one Dispatcher; also PDO autocommit calls
PG_NEW=${PG_NEW:-50}               # (new Dispatcher($url))->dispatch() calls
PG_BATCHED=${PG_BATCHED:-5000}     # events per PDO batch size
PG_BATCHES=${PG_BATCHES:-100,1000} # PDO batch sizes (events per transaction)
PG_TP_N=${PG_TP_N:-3000}           # tasks per drain run and per batching-producer run
PG_E2E_N=${PG_E2E_N:-1000}         # tasks per dispatch()-producer run (one commit each)
PG_WAKE_N=${PG_WAKE_N:-200}
PG_WAKE_GAP_US=${PG_WAKE_GAP_US:-2000}
PG_RUST=${PG_RUST:-1}
PG_RUST_TASKS=${PG_RUST_TASKS:-2000}
PG_FRESH=${PG_FRESH:-1}
TARGET=10000                       # issue #9: >= 10k tasks/s end-to-end with batch claims
export HURAH_LOG_LEVEL=warning
where=$(printf '%s' "$ADMIN" | sed -E 's#^[a-z]+://([^@/]*@)?([^/?]*).*#\2#') # host:port only

echo "## PostgreSQL backend (from PHP)"
echo
skip() { echo "Skipped: $1."; echo; exit 0; }
command -v php >/dev/null || skip "no php on PATH (scripts/setup.sh installs php8.2-cli)"
[ -f build/hurah.so ] || { echo "bench/pg.sh: build/hurah.so missing: make ext first" >&2; exit 1; }
# A private copy of the extension, so a concurrent `make ext` cannot swap it under a run.
so=$(mktemp --suffix=.so)
kv=$(mktemp)
rust_out=$(mktemp)
db=hurah_phpbench_$$
PHP=(php -n -d extension=pdo -d extension=pdo_pgsql -d extension="$so" -d memory_limit=-1)
created=0
cleanup() {
  if [ "$created" = 1 ]; then "${PHP[@]}" bench/php_pg_admin.php drop "$ADMIN" "$db" || true; fi
  rm -f "$so" "$kv" "$rust_out"
}
trap cleanup EXIT
cp build/hurah.so "$so"
export HURAH_SO="$so"
"${PHP[@]}" -r 'exit(extension_loaded("pdo_pgsql") ? 0 : 1);' 2>/dev/null ||
  skip "PDO pgsql is not available to php (package php8.2-pgsql; scripts/setup.sh installs it)"
url=$("${PHP[@]}" bench/php_pg_admin.php create "$ADMIN" "$db") ||
  skip "no PostgreSQL server accepting CREATE DATABASE at $where (set HURAH_TEST_PG)"
created=1
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$(date +%s)

# --- Rust core, same machine and server (its own database) ----------------------------------
rust_note=""
if [ "$PG_RUST" = 1 ]; then
  echo "bench/pg.sh: Rust core (examples/pg_bench --tasks $PG_RUST_TASKS)" >&2
  if cargo build --release -q -p hurah --example pg_bench >&2 &&
    echo "bench/pg.sh: $(($(date +%s) - t_start)) s: built; running it" >&2 &&
    target/release/examples/pg_bench --dsn "$ADMIN" --tasks "$PG_RUST_TASKS" > "$rust_out"; then
    awk '
      function us(v) {
        if (v ~ /ms$/) return substr(v, 1, length(v) - 2) * 1000
        if (v ~ /ns$/) return substr(v, 1, length(v) - 2) / 1000
        if (v ~ /s$/ && v !~ /[^0-9.]s$/) return substr(v, 1, length(v) - 1) * 1e6
        sub(/[^0-9.]+$/, "", v); return v + 0   # µs
      }
      /^synchronous_commit = / { s = $3 }
      /dispatch, one commit each/ { print "rust_" s "_single", $5 }
      /dispatch, 100 per commit/ { print "rust_" s "_batch100", $5 }
      /^  end-to-end, / { print "rust_" s "_" ($0 ~ /group commit/ ? "group" : "task") "_" $2, $8 }
      /^  live end-to-end, / { for (i = 1; i < NF; i++) if ($(i + 1) == "tasks/s") print "rust_" s "_live_" $3, $i }
      /wake latency/ { printf "rust_%s_wake_p50 %.0f\nrust_%s_wake_p99 %.0f\n", s, us($5), s, us($7) }
    ' "$rust_out" >> "$kv"
    echo "bench/pg.sh: $(($(date +%s) - t_start)) s: Rust core done" >&2
  else
    rust_note=" (the Rust benchmark failed in this run: no Rust figures)"
  fi
fi

# --- PHP --------------------------------------------------------------------------------------
admin() { "${PHP[@]}" bench/php_pg_admin.php "$@"; }
run() { # sync script args... -> "<sync>_<key> value" lines into $kv
  local sync=$1; shift
  echo "bench/pg.sh: $(($(date +%s) - t_start)) s: synchronous_commit $sync: ${*:1:1} ${*:3}" >&2
  "${PHP[@]}" "$@" | sed "s/^/${sync}_/" >> "$kv"
  admin reset "$url"
}
for sync in on off; do
  admin sync "$ADMIN" "$db" "$sync"
  seen=$(admin info "$url" | awk '$1 == "synchronous_commit" { print $2 }')
  [ "$seen" = "$sync" ] || { echo "bench/pg.sh: synchronous_commit is $seen, wanted $sync" >&2; exit 1; }
  run "$sync" bench/php_pg_dispatch.php "$url" "$PG_SINGLE" "$PG_NEW" "$PG_BATCHED" "$PG_BATCHES"
  for k in 1 2 4; do
    run "$sync" bench/php_pg_throughput.php "$url" "$PG_TP_N" "$k" drain
    run "$sync" bench/php_pg_throughput.php "$url" "$PG_E2E_N" "$k" e2e
    run "$sync" bench/php_pg_throughput.php "$url" "$PG_TP_N" "$k" e2eb
    run "$sync" bench/php_pg_throughput.php "$url" "$PG_TP_N" "$k" draingc
    run "$sync" bench/php_pg_throughput.php "$url" "$PG_TP_N" "$k" e2emgc
  done
  run "$sync" bench/php_pg_wake.php "$url" "$PG_WAKE_N" "$PG_WAKE_GAP_US"
done
# Diagnostic: the batching-producer run again (sync off, 1 worker) on a schema created anew
# (a first deployment): tables never analyzed, so the workers' cached claim plan is the one
# made for an empty table.
if [ "$PG_FRESH" = 1 ]; then
  admin fresh "$url"
  "${PHP[@]}" bench/php_pg_throughput.php "$url" "$PG_TP_N" 1 e2eb | sed "s/^/fresh_/" >> "$kv"
fi
server=$(admin info "$url" | awk '$1 == "server_version" { $1 = ""; print substr($0, 2) }')
seconds=$(($(date +%s) - t_start))

# --- Report -----------------------------------------------------------------------------------
g() { awk -v k="$1" '$1 == k { print $2 }' "$kv"; }
d() { local v; v=$(g "$1"); echo "${v:-–}"; } # a figure, or a dash when missing
frac() { awk -v a="$(g "$1")" -v t="$TARGET" 'BEGIN { if (a == "") print "–"; else printf "%.2f", a / t }'; }
best() { # the largest of the named figures: "value key"
  for k in "$@"; do echo "$k $(g "$k")"; done | awk 'NF == 2 && $2 + 0 > m + 0 { m = $2; k = $1 } END { print m, k }'
}
echo "PostgreSQL $server at $where (the same $(nproc) cores as the PHP processes), $(php -r 'echo PHP_VERSION;'), a database created for this run and dropped after it; $seconds s. Load average at the start: $load_start (the cores are shared with other builds: single runs, no best-of, so expect noise). One listener (\`bench/x\`), payload \`['i' => \$i]\`, no-op handleTask(); the PHP workers are the extension's PostgreSQL worker (claims of up to 32 rows, one settle statement per task). Between measures every task is moved to archive and \`hurah.tasks\` is VACUUM ANALYZEd: each measure starts on an empty inbox in a table with history and fresh statistics, as autovacuum keeps it in service. synchronous_commit is set with ALTER DATABASE; every measure uses new connections. Rust core: \`target/release/examples/pg_bench --tasks $PG_RUST_TASKS\` in the same run (worker threads with their own connections instead of processes)$rust_note."
echo
echo "### Dispatch from PHP (events/s)"
echo
echo "| measure | synchronous_commit on | off | Rust core on | Rust core off |"
echo "|---|---:|---:|---:|---:|"
echo "| \`\$d->dispatch('bench/x', ['i' => \$i])\`, one Dispatcher, one transaction each, $PG_SINGLE calls (µs per call p50 / p99) | $(d on_single_per_s) ($(d on_single_p50_us) / $(d on_single_p99_us)) | $(d off_single_per_s) ($(d off_single_p50_us) / $(d off_single_p99_us)) | $(d rust_on_single) | $(d rust_off_single) |"
echo "| \`(new Dispatcher(\$url))->dispatch(...)\` per event, $PG_NEW calls: connect (default sslmode=prefer: TLS) + schema check + dispatch, a PHP request's cost | $(d on_new_per_s) | $(d off_new_per_s) | | |"
echo "| the same with \`sslmode=disable\` | $(d on_new_plain_per_s) | $(d off_new_plain_per_s) | | |"
echo "| PDO \`SELECT * FROM hurah.dispatch(?, ?)\`, autocommit (one transaction each), $PG_SINGLE calls | $(d on_pdo1_per_s) | $(d off_pdo1_per_s) | | |"
for b in ${PG_BATCHES//,/ }; do
  r1="" r2=""
  if [ "$b" = 100 ]; then r1="$(d rust_on_batch100) (dispatch_many)"; r2="$(d rust_off_batch100)"; fi
  echo "| PDO, $b calls in one transaction (outbox), $PG_BATCHED events | $(d "on_pdo${b}_per_s") | $(d "off_pdo${b}_per_s") | $r1 | $r2 |"
done
for b in ${PG_BATCHES//,/ }; do
  r1="" r2=""
  if [ "$b" = 100 ]; then r1="$(d rust_on_batch100) (dispatch_many)"; r2="$(d rust_off_batch100)"; fi
  echo "| \`\$d->dispatchMany(\$events)\`, $b events per call (one transaction), $PG_BATCHED events | $(d "on_many${b}_per_s") | $(d "off_many${b}_per_s") | $r1 | $r2 |"
done
echo
echo "### Tasks/s: watching PHP worker processes"
echo
echo "drain: $PG_TP_N tasks queued first, then the workers start together (\`watch(['stopWhenEmpty' => true])\`), timed from the start signal to the last handleTask() entry. end-to-end: the workers are asleep in \`watch()\` and one PHP process dispatches as fast as it can, timed from its first dispatch to the last handleTask() entry; in parentheses the producer's own rate and the lag (last handleTask() entry − the producer's last commit). Rust core: pg_bench's end-to-end rows, which are drains (queued first), per-task settle as the PHP worker does (with group commit in parentheses). Issue #9 target: ≥ $TARGET tasks/s end-to-end with batch claims; × target = measured / $TARGET."
echo
echo "| measure | workers | sync on: tasks/s | × target | sync off: tasks/s | × target | Rust core on / off |"
echo "|---|---:|---:|---:|---:|---:|---|"
e2e_cell() { # sync mode k
  echo "$(d "${1}_${2}_${3}_per_s") (producer $(d "${1}_${2}_${3}_producer_per_s")/s, lag $(d "${1}_${2}_${3}_lag_ms") ms; split $(d "${1}_${2}_${3}_split"))"
}
for k in 1 2 4; do
  echo "| drain, $PG_TP_N tasks | $k | $(d "on_drain_${k}_per_s") (split $(d "on_drain_${k}_split")) | $(frac "on_drain_${k}_per_s") | $(d "off_drain_${k}_per_s") (split $(d "off_drain_${k}_split")) | $(frac "off_drain_${k}_per_s") | $(d "rust_on_task_$k") / $(d "rust_off_task_$k") (group commit $(d "rust_on_group_$k") / $(d "rust_off_group_$k")) |"
done
for k in 1 2 4; do
  echo "| end-to-end, producer \`dispatch()\` one commit each, $PG_E2E_N tasks | $k | $(e2e_cell on e2e "$k") | $(frac "on_e2e_${k}_per_s") | $(e2e_cell off e2e "$k") | $(frac "off_e2e_${k}_per_s") | |"
done
for k in 1 2 4; do
  echo "| end-to-end, producer PDO \`hurah.dispatch()\` 100 per transaction, $PG_TP_N tasks | $k | $(e2e_cell on e2eb "$k") | $(frac "on_e2eb_${k}_per_s") | $(e2e_cell off e2eb "$k") | $(frac "off_e2eb_${k}_per_s") | |"
done
for k in 1 2 4; do
  echo "| drain, workers in group commit (\`watch(['groupCommit' => true])\`), $PG_TP_N tasks | $k | $(d "on_draingc_${k}_per_s") (split $(d "on_draingc_${k}_split")) | $(frac "on_draingc_${k}_per_s") | $(d "off_draingc_${k}_per_s") (split $(d "off_draingc_${k}_split")) | $(frac "off_draingc_${k}_per_s") | |"
done
for k in 1 2 4; do
  echo "| end-to-end, producer \`dispatchMany()\` 100 per call, workers in group commit, $PG_TP_N tasks | $k | $(e2e_cell on e2emgc "$k") | $(frac "on_e2emgc_${k}_per_s") | $(e2e_cell off e2emgc "$k") | $(frac "off_e2emgc_${k}_per_s") | |"
done
for k in 1 2; do
  echo "| Rust core live end-to-end: $k watching worker thread(s), group commit, producer \`dispatch_many\` 100 per commit, $PG_RUST_TASKS tasks | $k | $(d "rust_on_live_$k") | $(frac "rust_on_live_$k") | $(d "rust_off_live_$k") | $(frac "rust_off_live_$k") | |"
done
if [ "$PG_FRESH" = 1 ]; then
  echo "| diagnostic: the batching-producer run with 1 worker, sync off, on a schema just created (a first deployment: tables never analyzed) | 1 | | | $(e2e_cell fresh e2eb 1) | $(frac fresh_e2eb_1_per_s) | |"
fi
echo
read -r be bek < <(best {on,off}_{e2e,e2eb,e2emgc}_{1,2,4}_per_s)
read -r bd bdk < <(best {on,off}_{drain,draingc}_{1,2,4}_per_s)
read -r br brk < <(best rust_{on,off}_live_{1,2})
echo "Against the target (≥ $TARGET tasks/s end-to-end): best PHP end-to-end ${be:-–} tasks/s (${bek%_per_s}) = $(awk -v a="${be:-0}" -v t="$TARGET" 'BEGIN { printf "%.2f", a / t }') of it; best PHP drain ${bd:-–} tasks/s (${bdk%_per_s}) = $(awk -v a="${bd:-0}" -v t="$TARGET" 'BEGIN { printf "%.2f", a / t }') of it; best Rust core live end-to-end ${br:-–} tasks/s (${brk#rust_}) = $(awk -v a="${br:-0}" -v t="$TARGET" 'BEGIN { printf "%.2f", a / t }') of it. End-to-end, the producer, its server backend, the workers and theirs share the $(nproc) cores."
if [ "$PG_FRESH" = 1 ]; then
  echo
  echo "The diagnostic row: on tables that were never analyzed, the workers' claim statement (prepared once per connection) runs on a generic plan made for an empty table. When the claim joined the locked rows back to \`hurah.tasks\` by (listener, seq), that plan read every row of the listener per claimed task until autovacuum's first ANALYZE (seen with auto_explain while writing this benchmark: 583 ms of lag against 331 ms in service); the claim now joins by \`ctid\` (a TID scan whatever the statistics), so this row should match its in-service twin above."
fi
echo
echo "### Wake latency: dispatch() returns in one process → handleTask() entry in a watching worker"
echo
echo "$PG_WAKE_N events, each $PG_WAKE_GAP_US µs after the previous task was settled (the worker is asleep on LISTEN each time); hrtime (CLOCK_MONOTONIC) in both processes. The dispatch's commit NOTIFYs the listener's channel; the worker then claims (one more commit: with synchronous_commit on it waits for the WAL flush too). Rust core: pg_bench's wake latency (200 events), timed from the dispatch() call start (compare it with the \"from dispatch() call start\" column), with the next event 2 ms after the handler saw the previous one, so with synchronous_commit on it can include the previous settle's WAL flush. Negative values: the worker entered handleTask() before dispatch() had returned. µs:"
echo
echo "| synchronous_commit | wake p50 | p90 | p99 | max | from dispatch() call start p50 / p99 | dispatch() call p50 / p99 | Rust core p50 / p99 (from call start) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for s in on off; do
  echo "| $s | $(d "${s}_wake_p50") | $(d "${s}_wake_p90") | $(d "${s}_wake_p99") | $(d "${s}_wake_max") | $(d "${s}_call_p50") / $(d "${s}_call_p99") | $(d "${s}_dispatch_p50") / $(d "${s}_dispatch_p99") | $(d "rust_${s}_wake_p50") / $(d "rust_${s}_wake_p99") |"
done
echo

<?php
// Throughput of watching PHP worker processes (no-op handleTask, the extension's default
// PostgreSQL worker: batch claims, one settle per task) on one listener of a PostgreSQL queue.
//   drain: n tasks are queued first (PDO, 1000 per transaction), then k workers start together
//          (watch with stopWhenEmpty); time from "go" to the last handleTask() entry.
//   e2e:   k workers are watching; this process dispatches n events with Dispatcher::dispatch()
//          (one transaction each) as fast as it can; time from the first dispatch() call to the
//          last handleTask() entry. The workers stop on SIGTERM once all n are archived.
//   e2eb:  the same with a batching producer: PDO `SELECT * FROM hurah.dispatch(?, ?)`, 100 per
//          transaction.
//   draingc, e2emgc: drain, and a producer calling Dispatcher::dispatchMany() with 100 events
//          per call, with the workers in group commit (`watch(['groupCommit' => true])`).
// Prints `key value` lines: <mode>_<k>_per_s (tasks/s), <mode>_<k>_split (tasks per worker)
// and, for e2e and e2eb, <mode>_<k>_producer_per_s (the producer's own rate) and
// <mode>_<k>_lag_ms (last handleTask() entry − the producer's last commit).
// Usage: php -d extension=pdo -d extension=pdo_pgsql -d extension=build/hurah.so \
//          bench/php_pg_throughput.php <db-url> <n> <workers> <drain|e2e|e2eb>
require __DIR__ . '/php_pg_common.php';

use Hurah\Event\Dispatcher;

if (($argv[1] ?? '') === 'worker') {
    [, , $url, $mode] = $argv;
    $count = 0;
    $last = 0;
    $h = new BenchHandler(PG_HANDLER, PG_TYPE, $url);
    $h->fn = function ($c, int $now) use (&$count, &$last) {
        $count++;
        $last = $now;
    };
    echo "ready\n";
    fgets(STDIN); // go
    $opts = str_starts_with($mode, 'drain') ? ['stopWhenEmpty' => true] : ['maxTime' => 600];
    if (str_ends_with($mode, 'gc')) {
        $opts['groupCommit'] = true;
    }
    $h->watch($opts);
    echo "$count $last\n";
    exit(0);
}

[, $url, $n, $k, $mode] = $argv + [null, null, 5000, 1, 'drain'];
$n = (int) $n;
$k = (int) $k;
if (!in_array($mode, ['drain', 'e2e', 'e2eb', 'draingc', 'e2emgc'], true)) {
    fwrite(STDERR, "mode: drain, e2e, e2eb, draingc or e2emgc\n");
    exit(2);
}
$d = new Dispatcher($url); // creates the schema if needed (after php_pg_admin.php fresh)
$pdo = pg_pdo($url);
// The inbox must be empty (bench/pg.sh resets the table between measures); the archive keeps
// what earlier measures left there.
if (($left = pg_count($pdo, 'inbox') + pg_count($pdo, 'claimed')) !== 0) {
    fwrite(STDERR, "$left tasks left in the queue: reset it first (php_pg_admin.php reset)\n");
    exit(1);
}
$base = pg_count($pdo, 'archive');
$workers = [];
for ($i = 0; $i < $k; $i++) {
    $workers[] = bench_spawn(__FILE__, [$url, $mode]);
}
foreach ($workers as [, , $out]) {
    bench_line($out, 'ready');
}
$go = function () use ($workers) {
    foreach ($workers as [, $in]) {
        fwrite($in, "go\n");
    }
};
if (str_starts_with($mode, 'drain')) {
    pg_dispatch_sql($pdo, $n, 1000);
    $t0 = hrtime(true);
    $go();
} else {
    $go();
    usleep(300000); // the workers are connected and LISTENing, asleep on an empty queue
    $t0 = hrtime(true);
    if ($mode === 'e2e') {
        for ($i = 0; $i < $n; $i++) {
            $d->dispatch(PG_TYPE, ['i' => $i]);
        }
    } elseif ($mode === 'e2emgc') {
        for ($i = 0; $i < $n; $i += 100) {
            $events = [];
            for ($j = $i; $j < min($i + 100, $n); $j++) {
                $events[] = [PG_TYPE, ['i' => $j]];
            }
            $d->dispatchMany($events);
        }
    } else {
        pg_dispatch_sql($pdo, $n, 100);
    }
    $t1 = hrtime(true);
    pg_wait_archived($pdo, $base + $n);
    foreach ($workers as [$proc]) {
        proc_terminate($proc, 15); // SIGTERM: watch() returns
    }
}
$end = 0;
$split = [];
foreach ($workers as [$proc, $in, $out]) {
    [$count, $last] = explode(' ', bench_line($out, 'its result'));
    $split[] = (int) $count;
    $end = max($end, (int) $last);
    fclose($in);
    fclose($out);
    proc_close($proc);
}
$archived = pg_count($pdo, 'archive') - $base;
if (array_sum($split) !== $n || $archived !== $n) {
    fwrite(STDERR, "$mode: handled " . array_sum($split) . " of $n, $archived archived\n");
    exit(1);
}
printf("{$mode}_{$k}_per_s %.0f\n", $n / (($end - $t0) / 1e9));
printf("{$mode}_{$k}_split %s\n", implode('/', $split));
if (!str_starts_with($mode, 'drain')) {
    printf("{$mode}_{$k}_producer_per_s %.0f\n", $n / (($t1 - $t0) / 1e9));
    printf("{$mode}_{$k}_lag_ms %.1f\n", ($end - $t1) / 1e6);
}

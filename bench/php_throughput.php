<?php
// Throughput of watching PHP worker processes (no-op handleTask) on one listener.
//   drain: n tasks are queued first, then k workers start together (watch with stopWhenEmpty);
//          time from "go" to the last handleTask entry.
//   e2e:   k workers are watching; this process dispatches n events as fast as it can; time
//          from the first dispatch() call to the last handleTask entry (dispatch and handling
//          overlap: the producer is one more process on the machine).
// Prints `key value` lines: <mode>_<k>_us (µs per event), <mode>_<k>_per_s, <mode>_<k>_split
// (tasks per worker) and, for e2e, e2e_<k>_dispatch_us (the producer's own µs per event).
// Usage: php -d extension=build/hurah.so bench/php_throughput.php <dir> <n> <workers> <drain|e2e>
require __DIR__ . '/php_common.php';

use Hurah\Event\Dispatcher;

const TYPE = 'bench/tp';

if (($argv[1] ?? '') === 'worker') {
    [, , $root, $mode, $done] = $argv;
    $count = 0;
    $last = 0;
    $h = new BenchHandler('tp', TYPE, $root);
    $h->fn = function ($c, int $now) use (&$count, &$last) {
        $count++;
        $last = $now;
    };
    echo "ready\n";
    fgets(STDIN); // go
    if ($mode === 'drain') {
        $h->watch(['stopWhenEmpty' => true]);
    } else {
        // Drain whatever is there; when empty, stop if the producer is done (after one last
        // drain: it may have dispatched between our drain and our check), else wait for more.
        while (true) {
            $h->watch(['stopWhenEmpty' => true]);
            if (file_exists($done)) {
                $h->watch(['stopWhenEmpty' => true]);
                break;
            }
            $h->watch(['maxJobs' => 1, 'maxTime' => 0.05]);
        }
    }
    echo "$count $last\n";
    exit(0);
}

[, $dir, $n, $k, $mode] = $argv + [null, null, 20000, 1, 'drain'];
$n = (int) $n;
$k = (int) $k;
$root = "$dir/tp";
$done = "$dir/tp-done";
bench_rmtree($root);
@unlink($done);
@mkdir($root, 0777, true);
$workers = [];
for ($i = 0; $i < $k; $i++) {
    $workers[] = bench_spawn(__FILE__, [$root, $mode, $done]);
}
foreach ($workers as [, , $out]) {
    bench_line($out, 'ready');
}
usleep(200000); // listener listings settle (the dispatcher caches them after 100 ms)
$d = new Dispatcher($root, ['fsync' => 'never']);
$payload = ['product_id' => 123, 'name' => 'benchmark'];
if ($mode === 'drain') {
    for ($i = 0; $i < $n; $i++) {
        $d->dispatch(TYPE, $payload);
    }
    $t0 = hrtime(true);
    foreach ($workers as [, $in]) {
        fwrite($in, "go\n");
    }
} else {
    foreach ($workers as [, $in]) {
        fwrite($in, "go\n");
    }
    usleep(100000); // the workers are in watch()
    $t0 = hrtime(true);
    for ($i = 0; $i < $n; $i++) {
        $d->dispatch(TYPE, $payload);
    }
    $t1 = hrtime(true);
    touch($done);
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
if (array_sum($split) !== $n) {
    fwrite(STDERR, "handled " . array_sum($split) . " of $n\n");
    exit(1);
}
$us = ($end - $t0) / 1e3 / $n;
printf("{$mode}_{$k}_us %.2f\n", $us);
printf("{$mode}_{$k}_per_s %.0f\n", 1e6 / $us);
printf("{$mode}_{$k}_split %s\n", implode('/', $split));
if ($mode === 'e2e') {
    printf("e2e_{$k}_dispatch_us %.2f\n", ($t1 - $t0) / 1e3 / $n);
}
bench_rmtree($root);
@unlink($done);

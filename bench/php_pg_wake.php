<?php
// Wake latency on PostgreSQL: a watching PHP worker (`$handler->watch()`, asleep on LISTEN)
// records hrtime(true) on entry to handleTask(); this process records hrtime(true) right after
// each Dispatcher::dispatch() returns (its commit NOTIFYs the listener's channel), one event at
// a time: the next one goes out gap_us after the previous task was settled (the worker tells
// when it entered handleTask(); this process then polls until the queue is empty), so the
// worker is asleep each time. hrtime is CLOCK_MONOTONIC, so the two processes' readings compare
// directly. Prints `key value` lines (µs): wake_* (handleTask()
// entry − dispatch() return), call_* (handleTask() entry − dispatch() call start) and
// dispatch_* (the dispatch() call itself).
// Usage: php -d extension=pdo -d extension=pdo_pgsql -d extension=build/hurah.so \
//          bench/php_pg_wake.php <db-url> [n=300] [gap_us=2000]
require __DIR__ . '/php_pg_common.php';

use Hurah\Event\Dispatcher;

if (($argv[1] ?? '') === 'worker') {
    [, , $url, $n, $file] = $argv;
    $n = (int) $n;
    $t = array_fill(0, $n, 0);
    $h = new BenchHandler(PG_HANDLER, PG_TYPE, $url);
    $h->fn = function ($c, int $now) use (&$t) {
        $i = $c->getPayload()['i'];
        if ($i >= 0) {
            $t[$i] = $now;
            echo "$i\n";
        }
    };
    $h->watch(['stopWhenEmpty' => true]); // the warm-up tasks
    echo "ready\n";
    $stats = $h->watch(['maxJobs' => $n, 'maxTime' => 600]);
    file_put_contents($file, implode("\n", $t));
    echo json_encode($stats), "\n";
    exit(0);
}

[, $url, $n, $gap] = $argv + [null, null, 300, 2000];
$n = (int) $n;
$gap = (int) $gap;
$file = tempnam(sys_get_temp_dir(), 'hurah-pg-wake');
$pdo = pg_pdo($url);
$d = new Dispatcher($url);
for ($i = 0; $i < 5; $i++) {
    $d->dispatch(PG_TYPE, ['i' => -1]); // warm: the dispatcher's prepared statement, the worker's
}
[$proc, $in, $out] = bench_spawn(__FILE__, [$url, $n, $file]);
bench_line($out, 'ready');
usleep(300000); // the worker is in watch(), asleep on LISTEN
$start = [];
$sent = [];
for ($i = 0; $i < $n; $i++) {
    $s = hrtime(true);
    $d->dispatch(PG_TYPE, ['i' => $i]);
    $sent[$i] = hrtime(true);
    $start[$i] = $s;
    bench_line($out, "task $i");
    while (pg_count($pdo, 'inbox') + pg_count($pdo, 'claimed') > 0) {
        usleep(200);
    }
    usleep($gap);
}
$stats = json_decode(bench_line($out, 'its stats'), true);
fclose($in);
fclose($out);
proc_close($proc);
$t = explode("\n", file_get_contents($file));
unlink($file);
if (($stats['handled'] ?? 0) !== $n || count($t) !== $n) {
    fwrite(STDERR, "the worker handled " . ($stats['handled'] ?? 0) . " of $n\n");
    exit(1);
}
$wake = $call = $disp = [];
for ($i = 0; $i < $n; $i++) {
    $wake[] = ((int) $t[$i] - $sent[$i]) / 1e3;
    $call[] = ((int) $t[$i] - $start[$i]) / 1e3;
    $disp[] = ($sent[$i] - $start[$i]) / 1e3;
}
bench_percentiles('wake', $wake);
bench_percentiles('call', $call);
bench_percentiles('dispatch', $disp);

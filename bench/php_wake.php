<?php
// Wake latency: a watching PHP worker (`$handler->watch()`) records hrtime(true) on entry to
// handleTask(); this process records hrtime(true) right after each dispatch() returns, one
// event at a time with a gap so the worker is asleep on inotify each time. hrtime is
// CLOCK_MONOTONIC, so the two processes' readings compare directly. Prints `key value` lines
// (µs): wake_* (handleTask entry − dispatch() return; negative when the worker started the task
// before dispatch() had returned) and call_* (handleTask entry − dispatch() call start), and
// dispatch_* (the dispatch() call itself).
// Usage: php -d extension=build/hurah.so bench/php_wake.php <dir> [n=5000] [gap_us=1000]
require __DIR__ . '/php_common.php';

use Hurah\Event\Dispatcher;

const TYPE = 'bench/wake';

if (($argv[1] ?? '') === 'worker') {
    [, , $root, $n, $file] = $argv;
    $n = (int) $n;
    $t = array_fill(0, $n, 0);
    $h = new BenchHandler('wake', TYPE, $root);
    $h->fn = function ($c, int $now) use (&$t) {
        $t[$c->getPayload()] = $now;
    };
    echo "ready\n";
    $stats = $h->watch(['maxJobs' => $n, 'maxTime' => 600]);
    file_put_contents($file, implode("\n", $t));
    echo json_encode($stats), "\n";
    exit(0);
}

[, $dir, $n, $gap] = $argv + [null, null, 5000, 1000];
$n = (int) $n;
$gap = (int) $gap;
$root = "$dir/wake";
bench_rmtree($root);
@mkdir($root, 0777, true);
$file = "$dir/wake-times.txt";
[$proc, $in, $out] = bench_spawn(__FILE__, [$root, $n, $file]);
bench_line($out, 'ready');
usleep(300000); // the worker is in watch(); listener listings settle (cached after 100 ms)
$d = new Dispatcher($root, ['fsync' => 'never']);
$start = [];
$sent = [];
for ($i = 0; $i < $n; $i++) {
    $s = hrtime(true);
    $d->dispatch(TYPE, $i);
    $sent[$i] = hrtime(true);
    $start[$i] = $s;
    usleep($gap);
}
$stats = bench_line($out, 'its stats');
fclose($in);
fclose($out);
proc_close($proc);
$t = explode("\n", file_get_contents($file));
unlink($file);
$wake = $call = $disp = [];
for ($i = 0; $i < $n; $i++) {
    $wake[] = ((int) $t[$i] - $sent[$i]) / 1e3;
    $call[] = ((int) $t[$i] - $start[$i]) / 1e3;
    $disp[] = ($sent[$i] - $start[$i]) / 1e3;
}
bench_percentiles('wake', $wake);
bench_percentiles('call', $call);
bench_percentiles('dispatch', $disp);
bench_rmtree($root);

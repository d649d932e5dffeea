<?php
// Delayed-task lateness: n tasks are dispatched with `at:` due times spread evenly over
// `span` seconds (starting 1.5 s from now, all dispatched before the first is due) to a
// watching PHP worker; the worker records, on entry to handleTask(), microtime − due time.
// Prints `key value` lines (ms): late_* (p50/p99/max...), early_count (tasks run before their
// due time: must be 0), and the dispatch rate.
// Usage: php -d extension=build/hurah.so bench/php_lateness.php <dir> [n=10000] [span_s=10]
require __DIR__ . '/php_common.php';

use Hurah\Event\Dispatcher;

const TYPE = 'bench/late';

if (($argv[1] ?? '') === 'worker') {
    [, , $root, $n, $file] = $argv;
    $n = (int) $n;
    $late = [];
    $h = new BenchHandler('late', TYPE, $root);
    $h->fn = function ($c, int $now) use (&$late) {
        $at = microtime(true) * 1000;
        $late[] = $at - $c->getPayload()['due'];
    };
    echo "ready\n";
    $stats = $h->watch(['maxJobs' => $n, 'maxTime' => 600]);
    file_put_contents($file, implode("\n", $late));
    echo json_encode($stats), "\n";
    exit(0);
}

[, $dir, $n, $span] = $argv + [null, null, 10000, 10];
$n = (int) $n;
$span = (float) $span;
$root = "$dir/late";
$file = "$dir/late.txt";
bench_rmtree($root);
@mkdir($root, 0777, true);
[$proc, $in, $out] = bench_spawn(__FILE__, [$root, $n, $file]);
bench_line($out, 'ready');
usleep(200000);
$d = new Dispatcher($root, ['fsync' => 'never']);
$first = (int) (microtime(true) * 1000) + 1500;
$t = hrtime(true);
for ($i = 0; $i < $n; $i++) {
    $due = $first + (int) round($i * $span * 1000 / $n);
    $at = \DateTimeImmutable::createFromFormat('U.v', sprintf('%d.%03d', intdiv($due, 1000), $due % 1000));
    $d->dispatch(TYPE, ['due' => $due], at: $at);
}
$dispatch_s = (hrtime(true) - $t) / 1e9;
if (microtime(true) * 1000 > $first) {
    fwrite(STDERR, "warning: dispatching took longer than the 1.5 s lead\n");
}
bench_line($out, 'its stats');
fclose($in);
fclose($out);
proc_close($proc);
$late = array_map('floatval', explode("\n", file_get_contents($file)));
unlink($file);
bench_percentiles('late', $late, '%.3f');
printf("early_count %d\n", count(array_filter($late, fn ($x) => $x < 0)));
printf("late_span_s %.1f\n", $span);
printf("late_dispatch_per_s %.0f\n", $n / $dispatch_s);
bench_rmtree($root);

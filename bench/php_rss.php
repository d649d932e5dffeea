<?php
// Worker memory over many tasks: one watching PHP worker handles n tasks (no-op handleTask
// that reads the payload) dispatched in batches by this process, which empties archive/
// between batches so the file system does not grow. The worker reports its RSS (VmRSS) and
// memory_get_usage() before watch(), after the first batch (warmed up) and at the end.
// Prints `key value` lines: rss_{before,warm,end}_kb, rss_growth_kb (end − warm), php_mem_*.
// Usage: php -d extension=build/hurah.so bench/php_rss.php <dir> [n=100000] [batch=10000]
require __DIR__ . '/php_common.php';

use Hurah\Event\Dispatcher;

const TYPE = 'bench/rss';

if (($argv[1] ?? '') === 'worker') {
    [, , $root, $n, $batch] = $argv;
    $n = (int) $n;
    $batch = (int) $batch;
    $count = 0;
    $samples = [];
    $sample = function (string $when) use (&$samples) {
        $samples[] = sprintf('%s %d %d', $when, intdiv(bench_rss(), 1024), intdiv(memory_get_usage(), 1024));
    };
    $h = new BenchHandler('rss', TYPE, $root);
    $h->fn = function ($c, int $now) use (&$count, $batch, $sample) {
        $p = $c->getPayload();
        $count++;
        if ($count === $batch) {
            $sample('warm');
        }
    };
    $sample('before');
    echo "ready\n";
    $h->watch(['maxJobs' => $n, 'maxTime' => 3600]);
    $sample('end');
    echo implode(';', $samples), "\n";
    exit(0);
}

[, $dir, $n, $batch] = $argv + [null, null, 100000, 10000];
$n = (int) $n;
$batch = (int) $batch;
$root = "$dir/rss";
bench_rmtree($root);
@mkdir($root, 0777, true);
[$proc, $in, $out] = bench_spawn(__FILE__, [$root, $n, $batch]);
bench_line($out, 'ready');
usleep(200000);
$d = new Dispatcher($root, ['fsync' => 'never']);
$inbox = "$root/bench/rss/rss_listener/inbox";
$archive = "$root/bench/rss/rss_listener/archive";
$payload = ['product_id' => 123, 'name' => 'benchmark', 'tags' => ['a', 'b', 'c']];
$t = hrtime(true);
for ($sent = 0; $sent < $n;) {
    for ($i = 0; $i < $batch && $sent < $n; $i++, $sent++) {
        $d->dispatch(TYPE, $payload + ['i' => $sent]);
    }
    while (bench_count($inbox) > 0) {
        usleep(20000);
    }
    foreach (scandir($archive) ?: [] as $f) {
        if ($f[0] !== '.') {
            @unlink("$archive/$f");
        }
    }
}
$line = bench_line($out, 'its samples');
fclose($in);
fclose($out);
proc_close($proc);
$s = [];
foreach (explode(';', $line) as $x) {
    [$when, $rss, $mem] = explode(' ', $x);
    $s[$when] = [(int) $rss, (int) $mem];
}
foreach (['before', 'warm', 'end'] as $w) {
    printf("rss_{$w}_kb %d\n", $s[$w][0]);
    printf("php_mem_{$w}_kb %d\n", $s[$w][1]);
}
printf("rss_growth_kb %d\n", $s['end'][0] - $s['warm'][0]);
printf("rss_tasks %d\n", $n);
printf("rss_seconds %.1f\n", (hrtime(true) - $t) / 1e9);
bench_rmtree($root);

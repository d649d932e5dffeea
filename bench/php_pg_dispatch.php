<?php
// Dispatch from PHP on PostgreSQL, one listener (PG_HANDLER on PG_TYPE, registered here and
// never run), payload ['i' => $i]:
//   single: one `new Dispatcher($url)`, then dispatch() calls (one transaction each);
//   new:    `(new Dispatcher($url))->dispatch()` per event (connect + schema check + dispatch,
//           what a PHP web request that dispatches once pays); new_plain: the same with
//           sslmode=disable added (when the URL sets no sslmode: the default prefer uses TLS);
//   pdo1:   PDO `SELECT * FROM hurah.dispatch(?, ?)` in autocommit (one transaction each);
//   pdo<B>: the same, B calls inside one PDO transaction (the README's outbox pattern);
//   many<B>: Dispatcher::dispatchMany() with B events per call (one transaction each).
// Prints `key value` lines: <name>_per_s, and single_p50/p99_us (one dispatch() call).
// Usage: php -d extension=pdo -d extension=pdo_pgsql -d extension=build/hurah.so \
//          bench/php_pg_dispatch.php <db-url> [single=1000] [new=200] [batched=10000] [batches=100,1000]
require __DIR__ . '/php_pg_common.php';

use Hurah\Event\Dispatcher;

[, $url, $nSingle, $nNew, $nBatched, $batches] = $argv + [null, null, 1000, 200, 10000, '100,1000'];
$nSingle = (int) $nSingle;
$nNew = (int) $nNew;
$nBatched = (int) $nBatched;
new BenchHandler(PG_HANDLER, PG_TYPE, $url); // registers the listener (schema created if needed)
$pdo = pg_pdo($url);
$expected = 0;
$rate = fn (int $n, int $ns) => sprintf("%.0f", $n / ($ns / 1e9));

// Warm-up: connection, prepared statement, the listener row in cache.
$d = new Dispatcher($url);
for ($i = 0; $i < 20; $i++) {
    $d->dispatch(PG_TYPE, ['i' => -1]);
}
pg_dispatch_sql($pdo, 20, 20, -1000);
$expected += 40;

$lat = [];
$t = hrtime(true);
for ($i = 0; $i < $nSingle; $i++) {
    $s = hrtime(true);
    $d->dispatch(PG_TYPE, ['i' => $i]);
    $lat[] = (hrtime(true) - $s) / 1e3;
}
$ns = hrtime(true) - $t;
$expected += $nSingle;
echo 'single_per_s ', $rate($nSingle, $ns), "\n";
sort($lat);
printf("single_p50_us %.0f\nsingle_p99_us %.0f\n", $lat[(int) round(($nSingle - 1) * 0.5)], $lat[(int) round(($nSingle - 1) * 0.99)]);

$t = hrtime(true);
for ($i = 0; $i < $nNew; $i++) {
    (new Dispatcher($url))->dispatch(PG_TYPE, ['i' => $i]);
}
$ns = hrtime(true) - $t;
$expected += $nNew;
echo 'new_per_s ', $rate($nNew, $ns), "\n";
// The same without TLS (sslmode=disable), when the URL leaves sslmode to its default (prefer).
if (!str_contains($url, 'sslmode=')) {
    $plain = $url . (str_contains($url, '?') ? '&' : '?') . 'sslmode=disable';
    $t = hrtime(true);
    for ($i = 0; $i < $nNew; $i++) {
        (new Dispatcher($plain))->dispatch(PG_TYPE, ['i' => $i]);
    }
    $ns = hrtime(true) - $t;
    $expected += $nNew;
    echo 'new_plain_per_s ', $rate($nNew, $ns), "\n";
}

$ns = pg_dispatch_sql($pdo, $nSingle, 1);
$expected += $nSingle;
echo 'pdo1_per_s ', $rate($nSingle, $ns), "\n";

foreach (array_map('intval', explode(',', $batches)) as $b) {
    $ns = pg_dispatch_sql($pdo, $nBatched, $b);
    $expected += $nBatched;
    echo "pdo{$b}_per_s ", $rate($nBatched, $ns), "\n";
}

// Native batches: Dispatcher::dispatchMany(), B events per call (one transaction each).
foreach (array_map('intval', explode(',', $batches)) as $b) {
    $t = hrtime(true);
    for ($i = 0; $i < $nBatched; $i += $b) {
        $events = [];
        for ($j = $i; $j < min($i + $b, $nBatched); $j++) {
            $events[] = [PG_TYPE, ['i' => $j]];
        }
        $d->dispatchMany($events);
    }
    $ns = hrtime(true) - $t;
    $expected += $nBatched;
    echo "many{$b}_per_s ", $rate($nBatched, $ns), "\n";
}

$got = pg_count($pdo, 'inbox');
if ($got !== $expected) {
    fwrite(STDERR, "expected $expected tasks in the inbox, found $got\n");
    exit(1);
}

<?php
// Shared helpers of the PHP-side PostgreSQL benchmarks (bench/pg.sh runs them): the URL of the
// throw-away database, PDO connections from a postgresql:// URL, filling a queue through the
// SQL function hurah.dispatch() and waiting for the workers. Not a benchmark itself. The
// worker processes load only the hurah extension; PDO (pdo_pgsql) is needed by the parents.
require __DIR__ . '/php_common.php';

/** The event type and handler name every PostgreSQL benchmark uses (one listener). */
const PG_TYPE = 'bench/x';
const PG_HANDLER = 'bench';

/** `postgresql://u@h:p/postgres?q` with database $db: bench/pg_bench.rs `with_db`. */
function pg_with_db(string $url, string $db): string
{
    [$base, $query] = array_pad(explode('?', $url, 2), 2, null);
    $s = strpos($base, '://');
    $s = $s === false ? 0 : $s + 3;
    $slash = strpos($base, '/', $s);
    $prefix = $slash === false ? $base : substr($base, 0, $slash);
    return "$prefix/$db" . ($query === null ? '' : "?$query");
}

/** A PDO connection (exceptions on errors) to the database of a postgresql:// URL. */
function pg_pdo(string $url): PDO
{
    if (!extension_loaded('pdo_pgsql')) {
        fwrite(STDERR, "pdo_pgsql is not loaded (php8.2-pgsql: scripts/setup.sh installs it)\n");
        exit(2);
    }
    $u = parse_url($url);
    if ($u === false || !in_array($u['scheme'] ?? '', ['postgresql', 'postgres'], true)) {
        fwrite(STDERR, "not a postgresql:// URL\n");
        exit(2);
    }
    $parts = ['host=' . ($u['host'] ?? 'localhost'), 'port=' . ($u['port'] ?? 5432)];
    $db = rawurldecode(ltrim($u['path'] ?? '', '/'));
    $parts[] = 'dbname=' . ($db === '' ? rawurldecode($u['user'] ?? 'postgres') : $db);
    parse_str($u['query'] ?? '', $q);
    foreach (['sslmode', 'connect_timeout'] as $k) {
        if (isset($q[$k])) {
            $parts[] = "$k=" . $q[$k];
        }
    }
    return new PDO(
        'pgsql:' . implode(';', $parts),
        isset($u['user']) ? rawurldecode($u['user']) : null,
        isset($u['pass']) ? rawurldecode($u['pass']) : null,
        [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]
    );
}

/**
 * Dispatches $n events ['i' => $from + i] through `SELECT * FROM hurah.dispatch(?, ?)`, $batch
 * per transaction (the outbox pattern of the README). Returns the elapsed nanoseconds.
 */
function pg_dispatch_sql(PDO $pdo, int $n, int $batch, int $from = 0): int
{
    $st = $pdo->prepare('SELECT * FROM hurah.dispatch(?, ?)');
    $t = hrtime(true);
    for ($i = 0; $i < $n;) {
        $pdo->beginTransaction();
        for ($j = 0; $j < $batch && $i < $n; $j++, $i++) {
            $st->execute([PG_TYPE, json_encode(['i' => $from + $i])]);
            $st->closeCursor();
        }
        $pdo->commit();
    }
    return hrtime(true) - $t;
}

/** Tasks of the benchmark listener in $state ('inbox', 'claimed', 'archive', 'error'). */
function pg_count(PDO $pdo, string $state): int
{
    $st = $pdo->prepare('SELECT count(*) FROM hurah.tasks t JOIN hurah.listeners l ON l.id = t.listener_id
                         WHERE l.event_type = ? AND l.handler_name = ? AND t.state = ?');
    $st->execute([PG_TYPE, PG_HANDLER, $state]);
    return (int) $st->fetchColumn();
}

/** Waits (polling every 10 ms, at most $timeout s) until $n tasks are archived. */
function pg_wait_archived(PDO $pdo, int $n, float $timeout = 300): void
{
    $end = microtime(true) + $timeout;
    while (($c = pg_count($pdo, 'archive')) < $n) {
        if (microtime(true) > $end) {
            fwrite(STDERR, "only $c of $n tasks archived after {$timeout} s\n");
            exit(1);
        }
        usleep(10000);
    }
}

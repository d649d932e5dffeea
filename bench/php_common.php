<?php
// Shared helpers of the PHP worker benchmarks (php_wake.php, php_throughput.php, php_rss.php,
// php_lateness.php): starting worker processes, percentiles, RSS. Not a benchmark itself.

use Hurah\Event\AbstractHandler;
use Hurah\Event\ContextInterface;
use Hurah\Event\Task;

/** A handler that calls $fn($context) and succeeds; quiet logger. */
final class BenchHandler extends AbstractHandler
{
    /** @var callable */
    public $fn;

    protected function handleTask(ContextInterface $c): int
    {
        $now = hrtime(true);
        ($this->fn)($c, $now);
        return Task::SUCCESS;
    }

    public function getLogger(): object
    {
        return new class {
            public function __call($m, $a)
            {
                if ($m === 'error' || $m === 'warning') {
                    fwrite(STDERR, "$m: {$a[0]}\n");
                }
            }
        };
    }
}

/** Starts `php <script> worker ...$args` with the extension; returns [proc, stdin, stdout]. */
function bench_spawn(string $script, array $args): array
{
    $ext = getenv('HURAH_SO') ?: dirname(__DIR__) . '/build/hurah.so';
    $cmd = array_merge([PHP_BINARY, '-n', '-d', "extension=$ext", '-d', 'memory_limit=-1', $script, 'worker'], array_map('strval', $args));
    $proc = proc_open($cmd, [0 => ['pipe', 'r'], 1 => ['pipe', 'w'], 2 => STDERR], $pipes);
    if (!is_resource($proc)) {
        fwrite(STDERR, "cannot start worker\n");
        exit(1);
    }
    return [$proc, $pipes[0], $pipes[1]];
}

/** Reads one line from a worker; dies with a message on EOF. */
function bench_line($out, string $what): string
{
    $l = fgets($out);
    if ($l === false) {
        fwrite(STDERR, "worker exited before $what\n");
        exit(1);
    }
    return rtrim($l, "\n");
}

/** p50/p99/max (and min) of a list of numbers as `key value` lines with prefix $name. */
function bench_percentiles(string $name, array $v, string $fmt = '%.1f'): void
{
    sort($v);
    $n = count($v);
    $p = fn (float $q) => $v[(int) round(($n - 1) * $q)];
    printf("{$name}_n %d\n", $n);
    printf("{$name}_min $fmt\n", $v[0]);
    printf("{$name}_p50 $fmt\n", $p(0.5));
    printf("{$name}_p90 $fmt\n", $p(0.9));
    printf("{$name}_p99 $fmt\n", $p(0.99));
    printf("{$name}_max $fmt\n", $v[$n - 1]);
}

/** Resident set size of this process in bytes (VmRSS). */
function bench_rss(): int
{
    $s = @file_get_contents('/proc/self/statm');
    return $s === false ? 0 : (int) explode(' ', $s)[1] * 4096;
}

function bench_rmtree(string $dir): void
{
    if (is_dir($dir)) {
        exec('rm -rf ' . escapeshellarg($dir));
    }
}

/** Entries of a directory without . and .. (cheap enough for the small dirs we poll). */
function bench_count(string $dir): int
{
    $e = @scandir($dir);
    return $e === false ? 0 : count($e) - 2;
}

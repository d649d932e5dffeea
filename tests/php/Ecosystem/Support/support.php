<?php
declare(strict_types=1);

namespace Hurah\Tests\Ecosystem;

use Psr\Log\AbstractLogger;

// The userland package (php/lib; in an application Composer's autoloader maps it) and the
// examples' tiny PSR-14 dispatcher / PSR-11 container.
require_once __DIR__ . '/../../../../php/lib/autoload.php';
require_once __DIR__ . '/../../../../php/examples/lib/TinyEventDispatcher.php';
require_once __DIR__ . '/../../../../php/examples/lib/TinyContainer.php';

const REPO = __DIR__ . '/../../../..';

/** A PSR-3 logger keeping every record: [level, message, context]. */
final class RecordingLogger extends AbstractLogger
{
    /** @var list<array{0: string, 1: string, 2: array}> */
    public array $records = [];

    public function log($level, $message, array $context = []): void
    {
        $this->records[] = [(string) $level, (string) $message, $context];
    }

    /** @return list<string> */
    public function messages(?string $level = null): array
    {
        $out = [];
        foreach ($this->records as [$l, $m]) {
            if ($level === null || $l === $level) {
                $out[] = $m;
            }
        }
        return $out;
    }

    /** @return list<string> */
    public function levels(): array
    {
        return array_values(array_unique(array_map(static fn ($r) => $r[0], $this->records)));
    }
}

/**
 * Runs a command (argv array, no shell) with the current environment plus $env; returns
 * [exit code, stdout, stderr]. Children inherit PHP_INI_SCAN_DIR/HURAH_EXT, so `php` loads
 * the extension under test.
 *
 * @return array{0: int, 1: string, 2: string}
 */
function run(array $cmd, ?string $cwd = null, array $env = [], float $timeout = 60.0): array
{
    $fullEnv = array_merge(getenv(), $env);
    foreach ($fullEnv as $k => $v) {
        if ($v === null) {
            unset($fullEnv[$k]);
        }
    }
    $p = proc_open($cmd, [0 => ['pipe', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, $cwd, $fullEnv);
    if (!is_resource($p)) {
        throw new \RuntimeException('cannot start ' . implode(' ', $cmd));
    }
    fclose($pipes[0]);
    stream_set_blocking($pipes[1], false);
    stream_set_blocking($pipes[2], false);
    $out = $err = '';
    $deadline = microtime(true) + $timeout;
    while (true) {
        $r = [$pipes[1], $pipes[2]];
        $w = $e = null;
        if (@stream_select($r, $w, $e, 0, 100000) > 0) {
            foreach ($r as $s) {
                $chunk = fread($s, 65536);
                if ($s === $pipes[1]) {
                    $out .= $chunk;
                } else {
                    $err .= $chunk;
                }
            }
        }
        $st = proc_get_status($p);
        if (!$st['running']) {
            $out .= stream_get_contents($pipes[1]);
            $err .= stream_get_contents($pipes[2]);
            fclose($pipes[1]);
            fclose($pipes[2]);
            proc_close($p);
            return [$st['exitcode'], $out, $err];
        }
        if (microtime(true) > $deadline) {
            proc_terminate($p, 9);
            throw new \RuntimeException('timed out: ' . implode(' ', $cmd) . "\nstdout: $out\nstderr: $err");
        }
    }
}

/** The PHP binary running the suite (with its ini: the extension under test). */
function php(): array
{
    return [PHP_BINARY];
}

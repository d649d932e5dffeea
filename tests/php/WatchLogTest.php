<?php
declare(strict_types=1);

namespace Hurah\Tests;

use Hurah\Event\Dispatcher;
use Hurah\Event\Worker;

/**
 * Signals and logs of the long-running PHP worker (`watch()`, `Worker::run()`): signals meant
 * for the worker never interrupt the running handler, each one taken is logged, and the start
 * and the reason for stopping are logged (to the handler's getLogger(), else stderr).
 */
final class WatchLogTest extends HurahTestCase
{
    private const CHILD = <<<'PHP'
        <?php
        [, $root, $dir, $logTo] = $argv;
        final class SleepyHandler extends Hurah\Event\AbstractHandler
        {
            public string $dir = '';
            public bool $withLogger = true;

            protected function handleTask(Hurah\Event\ContextInterface $c): int
            {
                file_put_contents("$this->dir/started", '1');
                $left = sleep(3);
                file_put_contents("$this->dir/slept", (string) $left);
                return Hurah\Event\Task::SUCCESS;
            }

            public function getLogger(): ?object
            {
                if (!$this->withLogger) {
                    return null;
                }
                $file = "$this->dir/log";
                return new class ($file) {
                    public function __construct(private string $file) {}
                    public function __call(string $level, array $args): void
                    {
                        file_put_contents($this->file, "$level|{$args[0]}\n", FILE_APPEND);
                    }
                };
            }
        }
        $h = new SleepyHandler('h', 'e', $root);
        $h->dir = $dir;
        $h->withLogger = $logTo === 'logger';
        $stats = $h->watch(['stopWhenEmpty' => true]);
        echo json_encode($stats), "\n";
        PHP;

    private string $dir;

    protected function setUp(): void
    {
        parent::setUp();
        $this->dir = sys_get_temp_dir() . '/hurah-watchlog-' . getmypid() . '-' . bin2hex(random_bytes(4));
        mkdir($this->dir);
        file_put_contents("$this->dir/child.php", self::CHILD);
    }

    protected function tearDown(): void
    {
        self::rmTree($this->dir);
        parent::tearDown();
    }

    private function waitFor(string $file): void
    {
        for ($i = 0; $i < 2000 && !file_exists($file); $i++) {
            usleep(10000);
        }
        $this->assertFileExists($file, 'the child got that far within 20 s');
    }

    /** Starts the child on one dispatched task; sends $signals while its handler sleeps. */
    private function runSleepyChild(string $root, string $logTo, array $signals): array
    {
        new ScriptedHandler('h', 'e', $root); // registers the listener first
        (new Dispatcher($root))->dispatch('e', 'x');
        $proc = proc_open([PHP_BINARY, "$this->dir/child.php", $root, $this->dir, $logTo], [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
        $this->assertIsResource($proc);
        $pid = proc_get_status($proc)['pid'];
        $this->waitFor("$this->dir/started");
        foreach ($signals as $sig) {
            posix_kill($pid, $sig);
            usleep(100000);
        }
        $out = stream_get_contents($pipes[1]);
        $err = stream_get_contents($pipes[2]);
        $status = proc_close($proc);
        return [$status, $out, $err, $pid];
    }

    public function testSignalsDoNotInterruptTheHandlerAndAreLogged(): void
    {
        [$status, $out, $err, $pid] = $this->runSleepyChild($this->root, 'logger', [SIGUSR1, SIGHUP]);
        $this->assertSame(0, $status, $err);
        $this->assertSame('0', file_get_contents("$this->dir/slept"), 'sleep(3) in the handler slept fully');
        $this->assertSame(1, json_decode($out, true)['succeeded']);
        $log = file("$this->dir/log", FILE_IGNORE_NEW_LINES);
        $this->assertSame("info|watch(): watching e:h on $this->root (pid $pid, files backend)", $log[0]);
        $this->assertContains('info|received SIGUSR1: log level raised to debug', $log);
        $this->assertContains('info|received SIGHUP: rescanning the queues', $log);
        $this->assertSame(
            'info|watch(): stopped (queue empty, stopWhenEmpty); handled 1, succeeded 1, failed 0, retried 0, recovered 0',
            end($log)
        );
        $this->assertSame('', $err, 'all went to the logger');
    }

    public function testSigtermStopsAfterTheTaskAndIsLoggedToStderrWithoutALogger(): void
    {
        [$status, $out, $err, $pid] = $this->runSleepyChild($this->root, 'stderr', [SIGTERM]);
        $this->assertSame(0, $status, $err);
        $this->assertSame('0', file_get_contents("$this->dir/slept"), 'the running task finished');
        $lines = explode("\n", rtrim($err, "\n"));
        $this->assertCount(3, $lines, $err);
        $this->assertMatchesRegularExpression(
            '/^\[[-0-9T:+]+\] hurah\.INFO: watch\(\): watching e:h on ' . preg_quote($this->root, '/') . " \\(pid $pid, files backend\\) \\(h on \"e\"\\)$/",
            $lines[0]
        );
        $this->assertStringEndsWith('hurah.INFO: received SIGTERM: stopping after the current task (h on "e")', $lines[1]);
        $this->assertStringEndsWith('hurah.INFO: watch(): stopped (signal SIGTERM); handled 1, succeeded 1, failed 0, retried 0, recovered 0 (h on "e")', $lines[2]);
    }

    public function testStopReasonsAreLogged(): void
    {
        $h = new ScriptedHandler('h', 'e', $this->root);
        $d = new Dispatcher($this->root);
        $d->dispatch('e', 1);
        $d->dispatch('e', 2);
        $h->watch(['maxJobs' => 1]);
        $h->watch(['maxTime' => 0.2]);
        $d->dispatch('e', 3);
        $h->watch(['memoryLimit' => 1]);
        $w = new Worker();
        $w->add($h);
        $w->run(['stopWhenEmpty' => true]);
        $stops = array_values(array_filter($h->getLogger()->messages('info'), fn ($m) => str_contains($m, 'stopped')));
        $this->assertSame([
            'watch(): stopped (maxJobs 1 reached); handled 1, succeeded 1, failed 0, retried 0, recovered 0',
            'watch(): stopped (maxTime 0.2s reached); handled 1, succeeded 1, failed 0, retried 0, recovered 0',
            'watch(): stopped (memoryLimit 1 bytes exceeded); handled 1, succeeded 1, failed 0, retried 0, recovered 0',
            'Worker::run(): stopped (queue empty, stopWhenEmpty); handled 0, succeeded 0, failed 0, retried 0, recovered 0',
        ], $stops);
        $starts = array_values(array_filter($h->getLogger()->messages('info'), fn ($m) => str_contains($m, 'watching')));
        $this->assertCount(4, $starts);
        $this->assertSame('Worker::run(): watching e:h on ' . $this->root . ' (pid ' . getmypid() . ', files backend)', $starts[3]);
    }

    public function testPostgresSignalsAreLoggedAndDoNotInterruptTheHandler(): void
    {
        $admin = getenv('HURAH_TEST_PG') ?: 'postgresql://postgres@127.0.0.1:5432/postgres';
        $db = 'hurah_wl_' . getmypid() . '_' . bin2hex(random_bytes(3));
        exec('psql ' . escapeshellarg($admin) . ' -qAtX -c ' . escapeshellarg("CREATE DATABASE $db") . ' 2>&1', $o, $rc);
        if ($rc !== 0) {
            $this->markTestSkipped('no PostgreSQL test server via psql: ' . implode(' ', $o));
        }
        $dsn = preg_replace('~^(postgres(?:ql)?://[^/]*)/[^/?]*~', '$1/' . $db, $admin);
        try {
            [$status, , $err] = $this->runSleepyChild($dsn, 'logger', [SIGUSR1, SIGHUP]);
            $this->assertSame(0, $status, $err);
            $this->assertSame('0', file_get_contents("$this->dir/slept"));
            $log = file("$this->dir/log", FILE_IGNORE_NEW_LINES);
            $this->assertStringContainsString('postgresql backend)', $log[0]);
            $this->assertContains('info|received SIGUSR1: log level raised to debug', $log);
            $this->assertContains('info|received SIGHUP: rescanning the queues', $log);
        } finally {
            exec('psql ' . escapeshellarg($admin) . ' -qAtX -c ' . escapeshellarg("DROP DATABASE IF EXISTS $db WITH (FORCE)") . ' 2>&1');
        }
    }
}

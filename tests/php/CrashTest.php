<?php
declare(strict_types=1);

namespace Hurah\Tests;

use Hurah\Event\Dispatcher;

/**
 * A handler that calls exit() or dies of a fatal error, in a child `php` process (loaded with
 * the extension as this suite loads it: the child inherits PHP_INI_SCAN_DIR and HURAH_EXT).
 * The worker must not crash: the attempt is settled (retried or error/ with the reason), the
 * claim released, then the process ends as PHP would (exit status of the handler, 255 for a
 * fatal error), and the next run serves the remaining tasks.
 */
final class CrashTest extends HurahTestCase
{
    private const CHILD = <<<'PHP'
        <?php
        [, $root, $mode, $how, $max] = $argv;
        final class CrashingHandler extends Hurah\Event\AbstractHandler
        {
            public string $mode = 'none';
            public int $max = 0;

            protected function handleTask(Hurah\Event\ContextInterface $c): int
            {
                $p = $c->getPayload();
                if ($p !== 'boom' || $this->mode === 'none') {
                    file_put_contents(getenv('HURAH_SERVED'), "$p\n", FILE_APPEND);
                    return Hurah\Event\Task::SUCCESS;
                }
                switch ($this->mode) {
                    case 'exit3':
                        exit(3);
                    case 'exittext':
                        exit("bye from the handler\n");
                    case 'memory':
                        $a = [];
                        while (true) {
                            $a[] = str_repeat('x', 1 << 20);
                        }
                    case 'usererror':
                        trigger_error('the handler gave up', E_USER_ERROR);
                        return Hurah\Event\Task::SUCCESS;
                    case 'typeerror':
                        return strlen([]);
                }
                return Hurah\Event\Task::SUCCESS;
            }

            protected function maxAttempts(): int
            {
                if ($this->mode === 'exitinmax') {
                    exit(4);
                }
                return $this->max;
            }
        }
        $h = new CrashingHandler('h', 'e', $root);
        $h->mode = $mode;
        $h->max = (int) $max;
        if ($how === 'watch') {
            $h->watch(['stopWhenEmpty' => true]);
        } elseif ($how === 'worker') {
            (new Hurah\Event\Worker())->add($h)->run(['stopWhenEmpty' => true]);
        } else {
            $h->handle();
        }
        echo "returned\n";
        PHP;

    private string $script;
    private string $served;

    protected function setUp(): void
    {
        parent::setUp();
        $this->script = tempnam(sys_get_temp_dir(), 'hurah-crash') . '.php';
        file_put_contents($this->script, self::CHILD);
        $this->served = tempnam(sys_get_temp_dir(), 'hurah-served');
    }

    protected function tearDown(): void
    {
        @unlink($this->script);
        @unlink($this->served);
        parent::tearDown();
    }

    /** Runs the child; returns [exit status, stdout, stderr]. */
    private function child(string $root, string $mode, string $how, int $max = 0): array
    {
        $env = getenv();
        $env['HURAH_SERVED'] = $this->served;
        $proc = proc_open(
            [PHP_BINARY, '-d', 'memory_limit=32M', '-d', 'display_errors=stderr', $this->script, $root, $mode, $how, (string) $max],
            [1 => ['pipe', 'w'], 2 => ['pipe', 'w']],
            $pipes,
            null,
            $env
        );
        $this->assertIsResource($proc);
        $out = stream_get_contents($pipes[1]);
        $err = stream_get_contents($pipes[2]);
        $status = proc_close($proc);
        $this->assertNotSame(139, $status, "segfault:\n$err");
        return [$status, $out, $err];
    }

    private function dispatchBoomThenAfter(string $root): void
    {
        new ScriptedHandler('h', 'e', $root); // registers the listener the child serves
        $d = new Dispatcher($root);
        $d->dispatch('e', 'boom');
        $d->dispatch('e', 'after');
    }

    private function served(): array
    {
        return array_values(array_filter(explode("\n", (string) file_get_contents($this->served))));
    }

    /** Asserts the file backend's state after a crashing run that sent task 1 to error/ with
     * $reason (or a reason matching it, when it is a /regex/). */
    private function assertFailedOnDisk(string $reason): void
    {
        $this->assertSame([], $this->files('e/h_listener/claimed'), 'the claim is released');
        $this->assertSame(['1.json'], $this->stateFiles('e/h_listener', 'error'));
        $this->assertSame(['2.json'], $this->stateFiles('e/h_listener', 'inbox'), 'the next task was not claimed');
        $doc = $this->readJson('e/h_listener/error/1.json');
        if (str_starts_with($reason, '/')) {
            $this->assertMatchesRegularExpression($reason, $doc['error']['reason']);
        } else {
            $this->assertSame($reason, $doc['error']['reason']);
        }
        $this->assertSame(1, $doc['error']['attempts']);
    }

    private function assertNextRunServes(string $root, array $payloads): void
    {
        [$status, $out] = $this->child($root, 'none', 'handle');
        $this->assertSame(0, $status);
        $this->assertSame("returned\n", $out);
        $this->assertSame($payloads, $this->served());
    }

    public static function hows(): array
    {
        return ['handle()' => ['handle'], 'watch()' => ['watch'], 'Worker::run()' => ['worker']];
    }

    /** @dataProvider hows */
    public function testExitWithAStatus(string $how): void
    {
        $this->dispatchBoomThenAfter($this->root);
        [$status, $out, $err] = $this->child($this->root, 'exit3', $how);
        $this->assertSame(3, $status, $err);
        $this->assertSame('', $out, 'the script ended inside ' . $how);
        $this->assertFailedOnDisk('handler called exit(3)');
        $this->assertStringContainsString('handler called exit(3)', $err, 'logged');
        $this->assertNextRunServes($this->root, ['after']);
    }

    /** @dataProvider hows */
    public function testExitWithAText(string $how): void
    {
        // exit("text") prints the text and ends with status 0, as in plain PHP.
        $this->dispatchBoomThenAfter($this->root);
        [$status, $out, $err] = $this->child($this->root, 'exittext', $how);
        $this->assertSame(0, $status, $err);
        $this->assertSame("bye from the handler\n", $out);
        $this->assertFailedOnDisk('handler called exit(0)');
        $this->assertNextRunServes($this->root, ['after']);
    }

    /** @dataProvider hows */
    public function testMemoryExhausted(string $how): void
    {
        $this->dispatchBoomThenAfter($this->root);
        [$status, $out, $err] = $this->child($this->root, 'memory', $how);
        $this->assertSame(255, $status, $err);
        $this->assertSame('', $out);
        $this->assertStringContainsString('Allowed memory size of 33554432 bytes exhausted', $err, 'PHP reported it');
        $this->assertSame(1, substr_count($err, 'PHP Fatal error'), "no user code ran after it:\n$err");
        $this->assertFailedOnDisk('/^Allowed memory size of 33554432 bytes exhausted \(tried to allocate \d+ bytes\)$/');
        $this->assertNextRunServes($this->root, ['after']);
    }

    /** @dataProvider hows */
    public function testFatalError(string $how): void
    {
        $this->dispatchBoomThenAfter($this->root);
        [$status, $out, $err] = $this->child($this->root, 'usererror', $how);
        $this->assertSame(255, $status, $err);
        $this->assertSame('', $out);
        $this->assertStringContainsString('PHP Fatal error:  the handler gave up', $err);
        $this->assertSame(1, substr_count($err, 'PHP Fatal error'), $err);
        $this->assertFailedOnDisk('the handler gave up');
        $this->assertNextRunServes($this->root, ['after']);
    }

    /** @dataProvider hows */
    public function testUncaughtTypeErrorIsAnOrdinaryFailure(string $how): void
    {
        $this->dispatchBoomThenAfter($this->root);
        [$status, $out, $err] = $this->child($this->root, 'typeerror', $how);
        $this->assertSame(0, $status, $err);
        $this->assertSame("returned\n", $out, 'the worker went on');
        $this->assertSame([], $this->files('e/h_listener/claimed'));
        $doc = $this->readJson('e/h_listener/error/1.json');
        $this->assertSame('TypeError', $doc['error']['class']);
        $this->assertStringContainsString('strlen(): Argument #1 ($string) must be of type string, array given', $doc['error']['reason']);
        $this->assertSame(['after'], $this->served());
    }

    /** @dataProvider hows */
    public function testExitInMaxAttemptsEndsTheRunWithNothingClaimed(string $how): void
    {
        $this->dispatchBoomThenAfter($this->root);
        [$status, $out, $err] = $this->child($this->root, 'exitinmax', $how);
        $this->assertSame(4, $status, $err);
        $this->assertSame('', $out);
        $this->assertSame([], $this->files('e/h_listener/claimed'));
        $this->assertSame(['1.json', '2.json'], $this->stateFiles('e/h_listener', 'inbox'), 'no task was taken');
        $this->assertNextRunServes($this->root, ['boom', 'after']);
    }

    /** @dataProvider hows */
    public function testExitIsRetriedWhileMaxAttemptsAllows(string $how): void
    {
        $this->dispatchBoomThenAfter($this->root);
        [$status, , $err] = $this->child($this->root, 'exit3', $how, 1);
        $this->assertSame(3, $status, $err);
        $this->assertSame([], $this->files('e/h_listener/claimed'));
        $this->assertSame([], $this->stateFiles('e/h_listener', 'error'));
        $this->assertSame(['1.json', '2.json'], $this->stateFiles('e/h_listener', 'inbox'));
        $this->assertSame(1, $this->readJson('e/h_listener/inbox/1.json')['attempts']);
        $this->assertStringContainsString('Task 1 failed: handler called exit(3); it will be retried', $err);
        // Second crash: the one retry is used up, so error/ with the reason.
        [$status] = $this->child($this->root, 'exit3', $how, 1);
        $this->assertSame(3, $status);
        $doc = $this->readJson('e/h_listener/error/1.json');
        $this->assertSame('handler called exit(3)', $doc['error']['reason']);
        $this->assertSame(2, $doc['error']['attempts']);
        $this->assertNextRunServes($this->root, ['after']);
    }

    public function testFatalErrorIsRetriedWhileMaxAttemptsAllows(): void
    {
        $this->dispatchBoomThenAfter($this->root);
        [$status, , $err] = $this->child($this->root, 'memory', 'watch', 1);
        $this->assertSame(255, $status, $err);
        $this->assertSame([], $this->files('e/h_listener/claimed'));
        $this->assertSame(['1.json', '2.json'], $this->stateFiles('e/h_listener', 'inbox'));
        $this->assertSame(1, $this->readJson('e/h_listener/inbox/1.json')['attempts']);
    }

    // ---- PostgreSQL ----------------------------------------------------------------------

    private function pgDatabase(): array
    {
        $admin = getenv('HURAH_TEST_PG') ?: 'postgresql://postgres@127.0.0.1:5432/postgres';
        $db = 'hurah_crash_' . getmypid() . '_' . bin2hex(random_bytes(3));
        exec('psql ' . escapeshellarg($admin) . ' -qAtX -c ' . escapeshellarg("CREATE DATABASE $db") . ' 2>&1', $o, $rc);
        if ($rc !== 0) {
            $this->markTestSkipped('no PostgreSQL test server via psql: ' . implode(' ', $o));
        }
        $dsn = preg_replace('~^(postgres(?:ql)?://[^/]*)/[^/?]*~', '$1/' . $db, $admin);
        return [$admin, $db, $dsn];
    }

    private function pgRows(string $dsn): string
    {
        exec('psql ' . escapeshellarg($dsn) . ' -qAtX -c ' . escapeshellarg(
            "SELECT seq || '|' || state || '|' || coalesce(error->>'reason', '') FROM hurah.tasks ORDER BY seq"
        ) . ' 2>&1', $o, $rc);
        $this->assertSame(0, $rc, implode("\n", $o));
        return implode("\n", $o);
    }

    public static function pgCases(): array
    {
        return [
            'exit(3) in handle()' => ['exit3', 'handle', 3, 'handler called exit(3)'],
            'exit(3) in watch()' => ['exit3', 'watch', 3, 'handler called exit(3)'],
            'fatal error in handle()' => ['usererror', 'handle', 255, 'the handler gave up'],
            'fatal error in watch()' => ['usererror', 'watch', 255, 'the handler gave up'],
            'memory exhausted in watch()' => ['memory', 'watch', 255, 'Allowed memory size of 33554432 bytes exhausted'],
            'exit(4) in maxAttempts() in watch()' => ['exitinmax', 'watch', 4, null],
            'exit(4) in maxAttempts() in handle()' => ['exitinmax', 'handle', 4, null],
        ];
    }

    /** @dataProvider pgCases */
    public function testPostgres(string $mode, string $how, int $expected, ?string $reason): void
    {
        [$admin, $db, $dsn] = $this->pgDatabase();
        try {
            $this->dispatchBoomThenAfter($dsn);
            [$status, , $err] = $this->child($dsn, $mode, $how);
            $this->assertSame($expected, $status, $err);
            if ($reason === null) {
                // Nothing was taken: both tasks still in the inbox, then served by the next run.
                $this->assertSame("1|inbox|\n2|inbox|", $this->pgRows($dsn));
                $this->assertNextRunServes($dsn, ['boom', 'after']);
                return;
            }
            $rows = explode("\n", $this->pgRows($dsn));
            $this->assertCount(2, $rows);
            $this->assertStringStartsWith("1|error|$reason", $rows[0]);
            $this->assertSame('2|inbox|', $rows[1], 'not claimed: released or never taken');
            $this->assertNextRunServes($dsn, ['after']);
            $this->assertSame("1|error|\n2|archive|", preg_replace('/\|error\|.*/', '|error|', $this->pgRows($dsn)));
        } finally {
            exec('psql ' . escapeshellarg($admin) . ' -qAtX -c ' . escapeshellarg("DROP DATABASE IF EXISTS $db WITH (FORCE)") . ' 2>&1');
        }
    }
}

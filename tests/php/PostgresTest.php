<?php
declare(strict_types=1);

namespace Hurah\Tests;

use Hurah\Event\Dispatcher;
use Hurah\Event\Worker;
use Hurah\Exception\InvalidArgumentException;
use Hurah\Exception\DatabaseException;
use Hurah\Exception\IoException;
use PHPUnit\Framework\TestCase;

/**
 * The PHP API with a PostgreSQL URL as the event root. Each test gets its own database on the
 * server named by HURAH_TEST_PG (default postgresql://postgres@127.0.0.1:5432/postgres), made
 * and dropped with psql; skipped only when psql cannot reach it.
 */
final class PostgresTest extends TestCase
{
    private string $admin;
    private string $db;
    private string $dsn;

    protected function setUp(): void
    {
        $this->admin = getenv('HURAH_TEST_PG') ?: 'postgresql://postgres@127.0.0.1:5432/postgres';
        $this->db = 'hurah_php_' . getmypid() . '_' . bin2hex(random_bytes(3));
        $this->psql($this->admin, "CREATE DATABASE {$this->db}", true);
        $this->dsn = preg_replace('~^(postgres(?:ql)?://[^/]*)/[^/?]*~', '$1/' . $this->db, $this->admin);
    }

    protected function tearDown(): void
    {
        $this->psql($this->admin, "DROP DATABASE IF EXISTS {$this->db} WITH (FORCE)");
    }

    private function psql(string $dsn, string $sql, bool $skipOnFailure = false): string
    {
        exec('psql ' . escapeshellarg($dsn) . ' -qAtX -v ON_ERROR_STOP=1 -c ' . escapeshellarg($sql) . ' 2>&1', $out, $rc);
        if ($rc !== 0 && $skipOnFailure) {
            $this->markTestSkipped('no PostgreSQL test server via psql: ' . implode(' ', $out));
        }
        $this->assertSame(0, $rc, implode("\n", $out));
        return implode("\n", $out);
    }

    public function testDispatchHandleAndWatchOnAUrl(): void
    {
        $h = new ScriptedHandler('mailer', 'product', $this->dsn);
        $h->max = 1;
        $d = new Dispatcher($this->dsn);
        $d->dispatch('product/created', ['n' => 1, 'z' => 0, 'a' => 0]);
        $d->dispatch('product', ['do' => 'failure']);
        $d->dispatch('product/x', ['do' => 'retry']);
        @$d->dispatch('other', ['n' => 9]); // no listener: a notice, silenced here
        $h->handle();
        $this->assertSame([1, 2, 3], $h->seqs());
        $this->assertSame(['n' => 1, 'z' => 0, 'a' => 0], $h->seen[0]['payload'], 'key order kept');
        $h->handle();
        $this->assertSame([1, 2, 3, 3], $h->seqs(), 'the retry ran again, attempt 2');
        $this->assertSame(2, $h->seen[3]['attempt']);
        $this->assertSame(
            "archive|\nerror|Task failed\nerror|Hit retry limit which is set to: 1.",
            $this->psql($this->dsn, "SELECT state || '|' || coalesce(error->>'reason', '') FROM hurah.tasks ORDER BY seq")
        );
        $d->dispatch('product', ['n' => 4]);
        $stats = $h->watch(['stopWhenEmpty' => true]);
        $this->assertSame(1, $stats['handled']);
        $w = new Worker();
        $w->add($h);
        $d->dispatch('product', ['n' => 5]);
        $this->assertSame(1, $w->run(['stopWhenEmpty' => true])['succeeded']);
    }

    public function testOutboxThroughSql(): void
    {
        $h = new ScriptedHandler('mailer', 'order', $this->dsn);
        $this->psql($this->dsn, "BEGIN; SELECT * FROM hurah.dispatch('order/placed', '{\"n\":1}'); ROLLBACK");
        $h->handle();
        $this->assertSame([], $h->seen, 'rolled back: no task');
        $this->psql($this->dsn, "BEGIN; SELECT * FROM hurah.dispatch('order/placed', '{\"n\":2}'); COMMIT");
        $h->handle();
        $this->assertSame([['n' => 2]], array_column($h->seen, 'payload'));
    }

    public function testDelayAndCancel(): void
    {
        $h = new ScriptedHandler('mailer', 'a', $this->dsn);
        $d = new Dispatcher($this->dsn);
        $id = $d->dispatch('a', ['n' => 1], delay: 60);
        $d->dispatch('a', ['n' => 2], delay: 0.3);
        $d->dispatch('a', ['n' => 0]);
        $queue = $h->getQueue();
        $this->assertCount(1, $queue);
        $this->assertSame(['n' => 0], $queue[0]->getPayload());
        $h->handle();
        $delayed = $h->getDelayed();
        $this->assertSame([2, 1], array_column($delayed, 'sequence'), 'earliest first');
        $this->assertSame($id, $delayed[1]['id']);
        $this->assertSame(['n' => 1], $delayed[1]['context']->getPayload());
        $this->assertEqualsWithDelta(microtime(true) + 60, $delayed[1]['due'], 5);
        $this->assertSame(1, $d->cancel($id));
        $h->seen = [];
        $h->handle();
        $this->assertSame([], $h->seen);
        usleep(350_000);
        $h->handle();
        $this->assertSame([['n' => 2]], array_column($h->seen, 'payload'));
    }

    public function testAWorkerRefusesHandlersOfTwoBackendsAndLeavesThemUsable(): void
    {
        $dir = sys_get_temp_dir() . '/hurah-mixed-' . bin2hex(random_bytes(4));
        $onDb = new ScriptedHandler('mailer', 'a', $this->dsn);
        $onDir = new ScriptedHandler('mailer', 'a', $dir);
        $w = (new Worker())->add($onDb)->add($onDir);
        try {
            $w->run(['stopWhenEmpty' => true]);
            $this->fail('mixed backends accepted');
        } catch (InvalidArgumentException $e) {
            $this->assertStringContainsString('cannot share one worker', $e->getMessage());
        }
        // Neither handler stays marked as watched.
        (new Dispatcher($this->dsn))->dispatch('a', ['n' => 1]);
        (new Dispatcher($dir, ['fsync' => 'never']))->dispatch('a', ['n' => 2]);
        $this->assertSame(1, $onDb->watch(['stopWhenEmpty' => true])['succeeded']);
        $this->assertSame(1, $onDir->watch(['stopWhenEmpty' => true])['succeeded']);
        exec('rm -rf ' . escapeshellarg($dir));
    }

    public function testQueueAndDelayedListingsOnAUrl(): void
    {
        $h = new ScriptedHandler('mailer', 'a', $this->dsn);
        $d = new Dispatcher($this->dsn);
        $d->dispatch('a', ['n' => 1]);
        $d->dispatch('a', ['n' => 2]);
        $id = $d->dispatch('a', ['n' => 3], delay: 60);
        $queue = $h->getQueue();
        $this->assertCount(2, $queue);
        $this->assertSame(['n' => 1], $queue[0]->getPayload());
        $this->assertSame(2, $queue[1]->getSequence());
        $delayed = $h->getDelayed();
        $this->assertCount(1, $delayed);
        $this->assertSame($id, $delayed[0]['id']);
        $this->assertEqualsWithDelta(microtime(true) + 60, $delayed[0]['due'], 5.0);
        $this->assertSame(['n' => 3], $delayed[0]['context']->getPayload());
    }

    public function testDispatchManyIsOneTransaction(): void
    {
        $h = new ScriptedHandler('mailer', 'a', $this->dsn);
        $d = new Dispatcher($this->dsn);
        $ids = $d->dispatchMany([['a', ['n' => 1]], ['a/b', ['n' => 2]], ['a', ['n' => 3]]]);
        $this->assertCount(3, $ids);
        try {
            $d->dispatchMany([['a', ['n' => 4]], ['a', NAN]]);
            $this->fail('NAN encoded');
        } catch (\Hurah\Exception\EncodingException $e) {
            $this->assertStringContainsString('the payload of event #1', $e->getMessage());
            $this->assertStringContainsString('NAN', $e->getMessage());
        }
        $h->handle();
        $this->assertSame([1, 2, 3], array_map(fn ($s) => $s['payload']['n'], $h->seen));
        $this->assertSame($ids[2], $this->psql($this->dsn, 'SELECT id FROM hurah.tasks WHERE seq = 3'));
        $this->assertSame('3', $this->psql($this->dsn, 'SELECT count(*) FROM hurah.tasks'), 'nothing of the bad batch');
    }

    public function testGroupCommitWatch(): void
    {
        $h = new ScriptedHandler('mailer', 'a', $this->dsn);
        $d = new Dispatcher($this->dsn);
        $d->dispatchMany([['a', ['n' => 1]], ['a', ['do' => 'failure']], ['a', ['n' => 3]]]);
        $stats = $h->watch(['stopWhenEmpty' => true, 'groupCommit' => true]);
        $this->assertSame(3, $stats['handled']);
        $this->assertSame(2, $stats['succeeded']);
        $this->assertSame(
            "archive|\nerror|Task failed\narchive|",
            $this->psql($this->dsn, "SELECT state || '|' || coalesce(error->>'reason', '') FROM hurah.tasks ORDER BY seq")
        );
        try {
            $h->watch(['groupCommit' => 'yes please']);
            $this->fail('accepted');
        } catch (InvalidArgumentException $e) {
            $this->assertStringContainsString('groupCommit', $e->getMessage());
        }
    }

    public function testConnectionErrorsAreClear(): void
    {
        try {
            new Dispatcher('postgresql://postgres@127.0.0.1:1/x');
            $this->fail('connected');
        } catch (DatabaseException $e) {
            $this->assertStringContainsString('127.0.0.1:1', $e->getMessage());
            // Before DatabaseException existed this was an IoException; it still is one.
            $this->assertInstanceOf(IoException::class, $e);
        }
        try {
            new ScriptedHandler('h', 'a', 'postgresql://postgres@127.0.0.1:1/x');
            $this->fail('connected');
        } catch (DatabaseException $e) {
            $this->assertStringContainsString('127.0.0.1:1', $e->getMessage());
        }
        try {
            new ScriptedHandler('h', 'a', 'postgresql://u:secret@host:notaport/db');
            $this->fail('accepted');
        } catch (InvalidArgumentException $e) {
            $this->assertStringNotContainsString('secret', $e->getMessage());
        }
    }
}

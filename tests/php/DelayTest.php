<?php
declare(strict_types=1);

namespace Hurah\Tests;

use Hurah\Event\Dispatcher;
use Hurah\Exception\InvalidArgumentException;

/** Delayed dispatch (delay:/at:), Dispatcher::cancel() and AbstractHandler::getDelayed(). */
final class DelayTest extends HurahTestCase
{
    private const L = 'e/h_listener';

    private function nowMs(): int
    {
        return (int) floor(microtime(true) * 1000);
    }

    /** [due_ms, seq] of each file in the listener's delayed/, earliest first. */
    private function delayed(string $listener = self::L): array
    {
        $out = [];
        foreach ($this->stateFiles($listener, 'delayed') as $f) {
            $this->assertMatchesRegularExpression('/^\d+-\d+\.json$/', $f);
            [$due, $seq] = explode('-', basename($f, '.json'));
            $out[] = [(int) $due, (int) $seq];
        }
        sort($out);
        return $out;
    }

    private function setUpHandler(): ScriptedHandler
    {
        return new ScriptedHandler('h', 'e', $this->root);
    }

    public function testAFloatDelayInSecondsSendsTheTaskToDelayedWithItsDueTime(): void
    {
        $h = $this->setUpHandler();
        $d = new Dispatcher($this->root);
        $before = $this->nowMs();
        $id = $d->dispatch('e', ['x' => 1], delay: 1.5);
        $after = $this->nowMs();
        $this->assertIsString($id);
        $this->assertSame([], $this->stateFiles(self::L, 'inbox'));
        [[$due, $seq]] = $this->delayed();
        $this->assertSame(1, $seq);
        $this->assertGreaterThanOrEqual($before + 1500, $due);
        $this->assertLessThanOrEqual($after + 1501, $due);
        $doc = $this->readJson(self::L . '/delayed/' . $this->stateFiles(self::L, 'delayed')[0]);
        $this->assertSame($due, $doc['not_before']);
        $this->assertSame($id, $doc['id']);
        $this->assertSame(['x' => 1], $doc['payload']);
        $h->handle();
        $this->assertSame([], $h->seen, 'not run before it is due');
        $stats = $h->watch(['stopWhenEmpty' => true]);
        $this->assertSame(0, $stats['handled'], 'a delayed task that is not due does not keep stopWhenEmpty waiting');
    }

    public function testAnIntDelayAndAPositionalDelayWork(): void
    {
        $this->setUpHandler();
        $d = new Dispatcher($this->root);
        $before = $this->nowMs();
        $d->dispatch('e', 1, delay: 30);
        $d->dispatch('e', 2, 60); // third positional parameter is $delay
        $after = $this->nowMs();
        [[$due1, $seq1], [$due2, $seq2]] = $this->delayed();
        $this->assertSame([1, 2], [$seq1, $seq2]);
        $this->assertGreaterThanOrEqual($before + 30000, $due1);
        $this->assertLessThanOrEqual($after + 30000 + 1, $due1);
        $this->assertGreaterThanOrEqual($before + 60000, $due2);
        $this->assertLessThanOrEqual($after + 60000 + 1, $due2);
    }

    public function testADateIntervalDelay(): void
    {
        $this->setUpHandler();
        $d = new Dispatcher($this->root);
        $before = $this->nowMs();
        $d->dispatch('e', null, delay: new \DateInterval('PT5S'));
        $d->dispatch('e', null, delay: new \DateInterval('PT1H30M'));
        $after = $this->nowMs();
        [[$due1], [$due2]] = $this->delayed();
        $this->assertGreaterThanOrEqual($before + 5000, $due1);
        $this->assertLessThanOrEqual($after + 5000 + 1, $due1);
        $this->assertGreaterThanOrEqual($before + 5400000, $due2);
        $this->assertLessThanOrEqual($after + 5400000 + 1, $due2);
    }

    public function testAtADateTimeInTheFutureIsItsDueTimeRoundedUpToTheMillisecond(): void
    {
        $this->setUpHandler();
        $d = new Dispatcher($this->root);
        $at = new \DateTimeImmutable('@' . (time() + 3600));
        $at = $at->modify('+123400 microseconds'); // .1234 s
        $d->dispatch('e', 1, at: $at);
        $d->dispatch('e', 2, at: new \DateTime('+2 hours')); // mutable DateTime too
        [[$due1, $seq1], [$due2, $seq2]] = $this->delayed();
        $this->assertSame(1, $seq1);
        $this->assertSame((int) $at->format('U') * 1000 + 124, $due1);
        $this->assertSame(2, $seq2);
        $this->assertGreaterThan($this->nowMs() + 7000000, $due2);
    }

    public function testADueTimeInThePastOrAZeroDelayIsDueAtOnce(): void
    {
        $h = $this->setUpHandler();
        $d = new Dispatcher($this->root);
        $d->dispatch('e', 1, at: new \DateTimeImmutable('-10 seconds'));
        $d->dispatch('e', 2, at: new \DateTimeImmutable('1960-01-01'));
        $d->dispatch('e', 3, delay: 0);
        $d->dispatch('e', 4, delay: 0.0);
        $d->dispatch('e', 5, delay: new \DateInterval('PT0S'));
        $d->dispatch('e', 6, delay: null, at: null);
        $this->assertSame([], $this->delayed());
        $this->assertSame(['1.json', '2.json', '3.json', '4.json', '5.json', '6.json'], $this->stateFiles(self::L, 'inbox'));
        $h->handle();
        $this->assertSame([1, 2, 3, 4, 5, 6], array_column($h->seen, 'payload'));
    }

    public function testBadDelaysAreRejectedNamingTheValueAndNothingIsWritten(): void
    {
        $this->setUpHandler();
        $d = new Dispatcher($this->root);
        $inverted = new \DateInterval('PT5S');
        $inverted->invert = 1;
        $cases = [
            [['delay' => -1], '-1'],
            [['delay' => -0.001], '-0.001'],
            [['delay' => NAN], 'NAN'],
            [['delay' => INF], 'INF'],
            [['delay' => -INF], '-INF'],
            [['delay' => '5'], 'string'],
            [['delay' => []], 'array'],
            [['delay' => new \DateTime()], 'DateTime'],
            [['delay' => $inverted], '-5'],
            [['delay' => 1e12], '100 years'],
            [['at' => time() + 10], 'int'],
            [['at' => '2030-01-01'], 'string'],
            [['at' => new \DateInterval('PT1S')], 'DateInterval'],
            [['delay' => 1, 'at' => new \DateTimeImmutable('+1 hour')], 'not both'],
        ];
        foreach ($cases as [$args, $needle]) {
            try {
                $d->dispatch('e', ['x' => 1], ...$args);
                $this->fail('accepted ' . var_export($args, true));
            } catch (InvalidArgumentException $e) {
                $this->assertStringContainsString($needle, $e->getMessage());
            }
        }
        $this->assertSame([], $this->stateFiles(self::L, 'delayed'));
        $this->assertSame([], $this->stateFiles(self::L, 'inbox'));
    }

    public function testEveryListenerOfTheTreeGetsADelayedCopyWithTheSameId(): void
    {
        new ScriptedHandler('one', 'a/b', $this->root);
        new ScriptedHandler('two', 'a', $this->root);
        new ScriptedHandler('three', '', $this->root);
        $id = (new Dispatcher($this->root))->dispatch('a/b', 1, delay: 60);
        foreach (['a/b/one_listener', 'a/two_listener', 'three_listener'] as $l) {
            $this->assertCount(1, $this->delayed($l), $l);
            $f = $this->stateFiles($l, 'delayed')[0];
            $this->assertSame($id, $this->readJson("$l/delayed/$f")['id']);
        }
    }

    public function testGetDelayedListsTheWaitingTasksEarliestFirstWithoutClaimingThem(): void
    {
        $h = $this->setUpHandler();
        $d = new Dispatcher($this->root);
        $late = $d->dispatch('e', ['n' => 'late'], delay: 90);
        $soon = $d->dispatch('e', ['n' => 'soon'], delay: 30);
        $d->dispatch('e', ['n' => 'now']);
        $t = microtime(true);
        $list = $h->getDelayed();
        $this->assertCount(2, $list);
        $this->assertSame(['sequence', 'id', 'due', 'context'], array_keys($list[0]));
        $this->assertSame([$soon, $late], array_column($list, 'id'));
        $this->assertSame([2, 1], array_column($list, 'sequence'));
        $this->assertEqualsWithDelta($t + 30, $list[0]['due'], 2.0);
        $this->assertEqualsWithDelta($t + 90, $list[1]['due'], 2.0);
        $this->assertIsFloat($list[0]['due']);
        $this->assertInstanceOf(\Hurah\Event\Context::class, $list[0]['context']);
        $this->assertSame(['n' => 'soon'], $list[0]['context']->getPayload());
        $this->assertSame($soon, $list[0]['context']->getId());
        $this->assertCount(2, $this->delayed(), 'not claimed');
        $this->assertSame([], (new ScriptedHandler('other', 'x', $this->root))->getDelayed());
    }

    public function testCancelRemovesTheDelayedCopiesInEveryListener(): void
    {
        $a = new ScriptedHandler('one', 'a/b', $this->root);
        $b = new ScriptedHandler('two', 'a', $this->root);
        $d = new Dispatcher($this->root);
        $keep = $d->dispatch('a/b', 'keep', delay: 60);
        $gone = $d->dispatch('a/b', 'gone', delay: 60);
        $this->assertSame(2, $d->cancel($gone));
        $this->assertSame(0, $d->cancel($gone), 'already cancelled');
        $this->assertSame(0, $d->cancel('no-such-id'));
        foreach ([$a, $b] as $h) {
            $this->assertSame([$keep], array_column($h->getDelayed(), 'id'));
        }
        // A cancelled task never runs, the other one still does once due.
        foreach (glob("$this->root/a/b/one_listener/delayed/*.json") as $f) {
            rename($f, "$this->root/a/b/one_listener/inbox/" . explode('-', basename($f))[1]);
        }
        $a->handle();
        $this->assertSame(['keep'], array_column($a->seen, 'payload'));
    }

    public function testCancelLeavesATaskThatIsAlreadyInTheInbox(): void
    {
        $h = $this->setUpHandler();
        $d = new Dispatcher($this->root);
        $id = $d->dispatch('e', 1);
        $past = $d->dispatch('e', 2, at: new \DateTimeImmutable('-1 second'));
        $this->assertSame(0, $d->cancel($id));
        $this->assertSame(0, $d->cancel($past));
        $h->handle();
        $this->assertSame([1, 2], array_column($h->seen, 'payload'));
    }

    public function testCancelRejectsAnEmptyId(): void
    {
        $d = new Dispatcher($this->root);
        $this->expectException(InvalidArgumentException::class);
        $d->cancel('');
    }

    public function testAWatchingWorkerRunsADelayedTaskNotBeforeItsDueTime(): void
    {
        $h = new class ('h', 'e', $this->root) extends \Hurah\Event\AbstractHandler {
            public array $at = [];
            protected function handleTask(\Hurah\Event\ContextInterface $c): int
            {
                $this->at[$c->getPayload()] = microtime(true);
                return \Hurah\Event\Task::SUCCESS;
            }
        };
        $d = new Dispatcher($this->root);
        $t0 = microtime(true);
        $d->dispatch('e', 'b', delay: 0.6);
        $d->dispatch('e', 'a', delay: 0.3);
        $d->dispatch('e', 'now');
        $stats = $h->watch(['maxJobs' => 3, 'maxTime' => 20]);
        $this->assertSame(3, $stats['handled']);
        $this->assertSame(['now', 'a', 'b'], array_keys($h->at), 'in due order');
        $this->assertGreaterThanOrEqual($t0 + 0.3, $h->at['a']);
        $this->assertGreaterThanOrEqual($t0 + 0.6, $h->at['b']);
        $this->assertLessThan($t0 + 15, $h->at['b']);
    }

    public function testATaskDelayedWhileTheWorkerWatchesIsPickedUp(): void
    {
        $h = $this->setUpHandler();
        $child = proc_open([PHP_BINARY, '-r', 'usleep(200000); (new Hurah\Event\Dispatcher($argv[1]))->dispatch("e", "later", delay: 0.3);', $this->root],
            [], $pipes);
        $t0 = microtime(true);
        $stats = $h->watch(['maxJobs' => 1, 'maxTime' => 20]);
        proc_close($child);
        $this->assertSame(1, $stats['handled']);
        $this->assertSame(['later'], array_column($h->seen, 'payload'));
        $this->assertGreaterThanOrEqual($t0 + 0.5, microtime(true));
    }

    public function testCancellingFromAnotherProcessStopsAWatchingWorkerFromRunningIt(): void
    {
        $h = $this->setUpHandler();
        $d = new Dispatcher($this->root);
        $cancelled = $d->dispatch('e', 'cancelled', delay: 0.8);
        $d->dispatch('e', 'kept', delay: 1.2);
        $child = proc_open([PHP_BINARY, '-r', 'usleep(200000); echo (new Hurah\Event\Dispatcher($argv[1]))->cancel($argv[2]);', $this->root, $cancelled],
            [1 => ['pipe', 'w']], $pipes);
        $stats = $h->watch(['maxJobs' => 1, 'maxTime' => 20]);
        $out = stream_get_contents($pipes[1]);
        proc_close($child);
        $this->assertSame('1', $out);
        $this->assertSame(1, $stats['handled']);
        $this->assertSame(['kept'], array_column($h->seen, 'payload'));
        $this->assertSame([], $this->delayed());
    }
}

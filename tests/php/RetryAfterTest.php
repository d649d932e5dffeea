<?php
declare(strict_types=1);

namespace Hurah\Tests;

use Hurah\Event\AbstractHandler;
use Hurah\Event\ContextInterface;
use Hurah\Event\Dispatcher;
use Hurah\Event\Task;
use Hurah\Exception\InvalidArgumentException;

/**
 * A handler whose payload says what to return: `{"after": <seconds>|"PT1M"}` returns
 * Task::retryAfter(...), `{"plain": true}` a plain Task::RETRY, `{"succeed_after": N}`
 * retryAfter on the first N runs then SUCCESS. Records the microtime of each run.
 */
class RetryingHandler extends AbstractHandler
{
    public array $runs = [];
    public int $max = 5;
    /** What retryDelay() returns; 'none' leaves it to retryBackoff(). */
    public mixed $delay = 'none';
    public mixed $backoff = null;
    public CollectingLogger $logger;

    public function __construct($name, $type, $root)
    {
        parent::__construct($name, $type, $root);
        $this->logger = new CollectingLogger();
    }

    public function getLogger(): CollectingLogger
    {
        return $this->logger;
    }

    protected function maxAttempts(): int
    {
        return $this->max;
    }

    protected function retryDelay(int $attempt): float|int|\DateInterval|null
    {
        return $this->delay === 'none' ? null : $this->delay;
    }

    protected function retryBackoff(): mixed
    {
        return $this->backoff;
    }

    protected function handleTask(ContextInterface $context): int
    {
        $p = $context->getPayload();
        $this->runs[] = ['attempt' => $context->getAttempt(), 'at' => microtime(true), 'payload' => $p];
        if (isset($p['succeed_after']) && $context->getAttempt() > $p['succeed_after']) {
            return Task::SUCCESS;
        }
        if (isset($p['after'])) {
            $after = is_string($p['after']) ? new \DateInterval($p['after']) : $p['after'];
            return Task::retryAfter($after);
        }
        if (isset($p['set_then_succeed'])) {
            Task::retryAfter(3600);
            return Task::SUCCESS;
        }
        return Task::RETRY;
    }
}

final class RetryAfterTest extends HurahTestCase
{
    private const L = 'e/h_listener';

    private function nowMs(): int
    {
        return (int) floor(microtime(true) * 1000);
    }

    private function handler(mixed ...$payloads): RetryingHandler
    {
        $h = new RetryingHandler('h', 'e', $this->root);
        $d = new Dispatcher($this->root);
        foreach ($payloads as $p) {
            $d->dispatch('e', $p);
        }
        return $h;
    }

    /** Due times (ms) of the files in delayed/, by sequence. */
    private function dueTimes(): array
    {
        $out = [];
        foreach ($this->stateFiles(self::L, 'delayed') as $f) {
            [$due, $seq] = explode('-', basename($f, '.json'));
            $out[(int) $seq] = (int) $due;
        }
        ksort($out);
        return $out;
    }

    /** Moves every delayed task into the inbox, as a worker does once they are due. */
    private function makeDue(): void
    {
        foreach ($this->stateFiles(self::L, 'delayed') as $f) {
            $seq = explode('-', basename($f, '.json'))[1];
            rename("$this->root/" . self::L . "/delayed/$f", "$this->root/" . self::L . "/inbox/$seq.json");
        }
    }

    public function testRetryAfterReturnsTheRetryCode(): void
    {
        $this->assertSame(Task::RETRY, Task::retryAfter(30));
        $this->assertSame(Task::RETRY, Task::retryAfter(0.5));
        $this->assertSame(Task::RETRY, Task::retryAfter(new \DateInterval('PT1S')));
        $this->assertSame(Task::RETRY, \Hurah\Task::retryAfter(1));
    }

    public function testRetryAfterSendsTheTaskToDelayedAfterThatDelay(): void
    {
        $h = $this->handler(['after' => 30], ['after' => 0.25], ['after' => 'PT2M']);
        $before = $this->nowMs();
        $h->handle();
        $after = $this->nowMs();
        $due = $this->dueTimes();
        $this->assertSame([1, 2, 3], array_keys($due));
        $this->assertGreaterThanOrEqual($before + 30000, $due[1]);
        $this->assertLessThanOrEqual($after + 30000 + 1, $due[1]);
        $this->assertGreaterThanOrEqual($before + 250, $due[2]);
        $this->assertLessThanOrEqual($after + 250 + 1, $due[2]);
        $this->assertGreaterThanOrEqual($before + 120000, $due[3]);
        $this->assertLessThanOrEqual($after + 120000 + 1, $due[3]);
        $doc = $this->readJson(self::L . '/delayed/' . $this->stateFiles(self::L, 'delayed')[0]);
        $this->assertSame(1, $doc['retry_count']);
        $h->handle();
        $this->assertCount(3, $h->runs, 'not run again before it is due');
    }

    public function testRetryAfterZeroGoesStraightBackToTheInbox(): void
    {
        $h = $this->handler(['after' => 0]);
        $h->delay = 100; // an explicit retryAfter(0) wins over retryDelay()
        $h->handle();
        $this->assertSame([], $this->stateFiles(self::L, 'delayed'));
        $this->assertSame(['1.json'], $this->stateFiles(self::L, 'inbox'));
    }

    public function testRetryAfterWinsOverRetryDelayAndRetryBackoff(): void
    {
        $h = $this->handler(['after' => 5]);
        $h->delay = 1000;
        $h->backoff = ['delay' => 2000];
        $before = $this->nowMs();
        $h->handle();
        $due = $this->dueTimes()[1];
        $this->assertGreaterThanOrEqual($before + 5000, $due);
        $this->assertLessThan($before + 100000, $due);
    }

    public function testPlainRetryStillUsesRetryDelay(): void
    {
        $h = $this->handler(['plain' => true]);
        $h->delay = 40;
        $before = $this->nowMs();
        $h->handle();
        $this->assertGreaterThanOrEqual($before + 40000, $this->dueTimes()[1]);
        $this->assertLessThan($before + 41000, $this->dueTimes()[1]);
    }

    public function testRetryDelayMayReturnADateInterval(): void
    {
        $h = $this->handler(['plain' => true]);
        $h->delay = new \DateInterval('PT10S');
        $before = $this->nowMs();
        $h->handle();
        $this->assertGreaterThanOrEqual($before + 10000, $this->dueTimes()[1]);
        $this->assertLessThan($before + 11000, $this->dueTimes()[1]);
    }

    public function testTheSlotDoesNotLeakIntoTheNextTask(): void
    {
        // Task 1 calls retryAfter(3600) but returns SUCCESS; task 2 returns a plain RETRY and
        // the handler has no delay: it must go back to the inbox, not wait an hour.
        $h = $this->handler(['set_then_succeed' => true], ['plain' => true]);
        $h->handle();
        $this->assertSame(['1.json'], $this->stateFiles(self::L, 'archive'));
        $this->assertSame([], $this->stateFiles(self::L, 'delayed'));
        $this->assertSame(['2.json'], $this->stateFiles(self::L, 'inbox'));
    }

    public function testACallOutsideHandleTaskIsIgnored(): void
    {
        Task::retryAfter(3600);
        $h = $this->handler(['plain' => true]);
        $h->handle();
        $this->assertSame([], $this->stateFiles(self::L, 'delayed'));
        $this->assertSame(['1.json'], $this->stateFiles(self::L, 'inbox'));
    }

    public function testMaxAttemptsStillBoundsRetryAfter(): void
    {
        $h = $this->handler(['after' => 60]);
        $h->max = 1;
        $h->handle();
        $this->assertCount(1, $this->dueTimes());
        $this->makeDue();
        $h->handle();
        $this->assertSame([1, 2], array_column($h->runs, 'attempt'));
        $this->assertSame([], $this->stateFiles(self::L, 'delayed'));
        $doc = $this->readJson(self::L . '/error/1.json');
        $this->assertStringContainsString('Hit retry limit which is set to: 1', $doc['error']['reason']);
    }

    public function testBadRetryAfterValuesThrow(): void
    {
        $inverted = new \DateInterval('PT1S');
        $inverted->invert = 1;
        foreach ([[-1, '-1'], [NAN, 'NAN'], [INF, 'INF'], ['10', 'string'], [$inverted, 'negative']] as [$bad, $needle]) {
            try {
                Task::retryAfter($bad);
                $this->fail('accepted ' . var_export($bad, true));
            } catch (InvalidArgumentException $e) {
                $this->assertStringContainsString($needle, $e->getMessage());
            }
        }
    }

    public function testAnInvalidRetryAfterInsideHandleTaskFailsTheTask(): void
    {
        $h = $this->handler(['after' => -5]);
        $h->handle();
        $e = $this->readJson(self::L . '/error/1.json')['error'];
        $this->assertSame(InvalidArgumentException::class, $e['class']);
        $this->assertStringContainsString('-5', $e['reason']);
    }

    public function testRetryBackoffGrowsCapsAndIsUsedWithoutRetryDelay(): void
    {
        $h = $this->handler(['plain' => true]);
        $h->backoff = ['delay' => 10, 'multiplier' => 2, 'max' => 25, 'jitter' => 0];
        $got = [];
        for ($i = 0; $i < 4; $i++) {
            $before = $this->nowMs();
            $h->handle();
            $got[] = intdiv($this->dueTimes()[1] - $before + 500, 1000);
            $this->makeDue();
        }
        $this->assertSame([10, 20, 25, 25], $got);
    }

    public function testRetryBackoffAcceptsDateIntervalsDefaultsAndJitter(): void
    {
        $h = $this->handler(['plain' => true]);
        $h->max = 100;
        $h->backoff = ['delay' => new \DateInterval('PT1M')];
        $before = $this->nowMs();
        $h->handle();
        $this->assertEqualsWithDelta($before + 60000, $this->dueTimes()[1], 1000);
        $h->backoff = ['delay' => 100, 'jitter' => 0.5];
        for ($i = 0; $i < 10; $i++) {
            $this->makeDue();
            $before = $this->nowMs();
            $h->handle();
            $d = $this->dueTimes()[1] - $before;
            $this->assertGreaterThanOrEqual(49000, $d);
            $this->assertLessThanOrEqual(151000, $d);
        }
    }

    public function testRetryDelayNullFallsThroughToBackoffAndZeroDoesNot(): void
    {
        $h = $this->handler(['plain' => true]);
        $h->delay = null; // retryDelay() returns null
        $h->backoff = ['delay' => 15];
        $before = $this->nowMs();
        $h->handle();
        $this->assertEqualsWithDelta($before + 15000, $this->dueTimes()[1], 1000);
        $this->makeDue();
        $h->delay = 0;
        $h->handle();
        $this->assertSame([], $this->dueTimes());
        $this->assertSame(['1.json'], $this->stateFiles(self::L, 'inbox'));
    }

    public function testABadRetryBackoffIsLoggedAndTheTaskRetriesWithoutDelay(): void
    {
        foreach ([[['delay' => 1, 'nope' => 2], 'nope'], [['multiplier' => 0.5], 'multiplier'],
                  [['jitter' => 2], 'jitter'], [['delay' => -1], '-1'], ['lots', 'must return an array']] as [$backoff, $needle]) {
            self::rmTree($this->root);
            $h = $this->handler(['plain' => true]);
            $h->backoff = $backoff;
            $h->handle();
            $this->assertSame([], $this->dueTimes());
            $this->assertSame(['1.json'], $this->stateFiles(self::L, 'inbox'));
            $this->assertStringContainsString($needle, implode("\n", $h->logger->messages('warning')), json_encode($backoff));
        }
    }

    public function testAnEmptyBackoffMeansNoDelay(): void
    {
        $h = $this->handler(['plain' => true]);
        $h->backoff = [];
        $h->handle();
        $this->assertSame(['1.json'], $this->stateFiles(self::L, 'inbox'));
        $this->assertSame([], $h->logger->messages('warning'));
    }

    public function testAWatchingWorkerRunsTheRetryAfterItsDelay(): void
    {
        $h = $this->handler(['after' => 0.3, 'succeed_after' => 1]);
        $stats = $h->watch(['maxJobs' => 2, 'maxTime' => 20]);
        $this->assertSame(2, $stats['handled']);
        $this->assertSame(1, $stats['retried']);
        $this->assertSame(1, $stats['succeeded']);
        [$first, $second] = $h->runs;
        $this->assertSame([1, 2], [$first['attempt'], $second['attempt']]);
        $this->assertGreaterThanOrEqual(0.29, $second['at'] - $first['at']);
        $this->assertLessThan(15, $second['at'] - $first['at']);
        $this->assertSame(['1.json'], $this->stateFiles(self::L, 'archive'));
    }

    public function testAHandlerWithoutRetryMethodsAndAnIntReturnTypeWorks(): void
    {
        $h = new class ('h', 'e', $this->root) extends AbstractHandler {
            protected function handleTask(ContextInterface $c): int
            {
                return Task::retryAfter(45);
            }
            protected function maxAttempts(): int
            {
                return 1;
            }
            public function getLogger(): CollectingLogger
            {
                return new CollectingLogger();
            }
        };
        (new Dispatcher($this->root))->dispatch('e', 1);
        $before = $this->nowMs();
        $h->handle();
        $this->assertEqualsWithDelta($before + 45000, $this->dueTimes()[1], 1000);
    }
}

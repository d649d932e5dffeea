<?php
declare(strict_types=1);

namespace Hurah\Tests;

use Hurah\Event\Context;
use Hurah\Event\Dispatcher;

final class HandlerTest extends HurahTestCase
{
    private const L = 'e/h_listener';

    private function setUpHandler(array ...$payloads): ScriptedHandler
    {
        $h = new ScriptedHandler('h', 'e', $this->root);
        $d = new Dispatcher($this->root);
        foreach ($payloads as $p) {
            $d->dispatch('e', $p);
        }
        return $h;
    }

    private function error(int $seq): array
    {
        return $this->readJson(self::L . "/error/$seq.json");
    }

    public function testConstructionRegistersTheListener(): void
    {
        new ScriptedHandler('h', 'e', $this->root);
        $this->assertDirectoryExists("$this->root/" . self::L . '/inbox');
    }

    public function testSuccessGoesToArchive(): void
    {
        $h = $this->setUpHandler(['do' => 'success']);
        $h->handle();
        $this->assertSame(['1.json'], $this->stateFiles(self::L, 'archive'));
        $this->assertSame([], $this->stateFiles(self::L, 'inbox'));
    }

    public function testInvalidGoesToErrorWithItsReasonAndTheRunContinues(): void
    {
        $h = $this->setUpHandler(['do' => 'invalid'], ['do' => 'success']);
        $h->handle();
        $this->assertSame([1, 2], $h->seqs());
        $this->assertSame('Task was invalid', $this->error(1)['error']['reason']);
        $this->assertSame(['2.json'], $this->stateFiles(self::L, 'archive'));
    }

    public function testFailureGoesToErrorWithReasonAndFailureInfoAndTheRunContinues(): void
    {
        $h = $this->setUpHandler(['do' => 'failure'], ['do' => 'failure'], ['do' => 'success']);
        $h->failureInfo = ['disk full', 'try later'];
        $h->handle();
        $this->assertSame([1, 2, 3], $h->seqs());
        $e1 = $this->error(1)['error'];
        $this->assertStringStartsWith('Task failed', $e1['reason']);
        $this->assertStringContainsString('1.) disk full', $e1['reason']);
        $this->assertStringContainsString('2.) try later', $e1['reason']);
        // lines are per task, not accumulated across tasks (the original repeated them)
        $this->assertSame(1, substr_count($this->error(2)['error']['reason'], 'disk full'));
        $this->assertSame(1, $e1['attempts']);
        $this->assertSame(['3.json'], $this->stateFiles(self::L, 'archive'));
    }

    public function testAnExceptionGoesToErrorWithMessageAndClass(): void
    {
        $h = $this->setUpHandler(['do' => 'throw'], ['do' => 'success']);
        $h->handle();
        $e = $this->error(1)['error'];
        $this->assertSame('thrown for 1', $e['reason']);
        $this->assertSame('DomainException', $e['class']);
        $this->assertSame(['2.json'], $this->stateFiles(self::L, 'archive'));
    }

    public function testErrorsLikeTypeErrorAndDivisionByZeroAreCaughtToo(): void
    {
        $h = $this->setUpHandler(['do' => 'null'], ['do' => 'error'], ['do' => 'success']);
        $h->handle();
        $this->assertSame('TypeError', $this->error(1)['error']['class']);
        $this->assertStringContainsString('must be of type int', $this->error(1)['error']['reason']);
        $this->assertSame('DivisionByZeroError', $this->error(2)['error']['class']);
        $this->assertSame(['3.json'], $this->stateFiles(self::L, 'archive'));
    }

    public function testAnUnknownReturnCodeIsAFailureNamingIt(): void
    {
        $h = $this->setUpHandler(['do' => 'code', 'code' => 42]);
        $h->handle();
        $this->assertStringContainsString('42', $this->error(1)['error']['reason']);
        $this->assertSame([], $this->stateFiles(self::L, 'inbox'));
    }

    public function testRetryWithDefaultMaxAttemptsBehavesLikeTheOriginal(): void
    {
        // maxAttempts() = 0: one run, then error/ with "retry_count":1 (as hurah/events).
        $h = $this->setUpHandler(['do' => 'retry']);
        $h->handle();
        $this->assertSame(1, count($h->seen));
        $doc = $this->error(1);
        $this->assertSame(1, $doc['retry_count']);
        $this->assertStringContainsString('Hit retry limit which is set to: 0', $doc['error']['reason']);
    }

    public function testRetryRunsMaxAttemptsPlusOneTimesOnePerHandleCall(): void
    {
        $h = $this->setUpHandler(['do' => 'retry']);
        $h->max = 3;
        for ($run = 1; $run <= 3; $run++) {
            $h->handle();
            $this->assertSame(['1.json'], $this->stateFiles(self::L, 'inbox'), "after run $run");
            $this->assertSame($run, $this->readJson(self::L . '/inbox/1.json')['retry_count']);
        }
        $h->handle();
        $this->assertSame([1, 2, 3, 4], array_column($h->seen, 'attempt'));
        $this->assertSame([], $this->stateFiles(self::L, 'inbox'));
        $doc = $this->error(1);
        $this->assertSame(4, $doc['retry_count']);
        $this->assertSame(4, $doc['error']['attempts']);
        $h->handle();
        $this->assertCount(4, $h->seen);
    }

    public function testRetryDelaySendsTheTaskToDelayed(): void
    {
        $h = $this->setUpHandler(['do' => 'retry']);
        $h->max = 2;
        $h->delay = 30;
        $h->handle();
        $delayed = $this->stateFiles(self::L, 'delayed');
        $this->assertCount(1, $delayed);
        $this->assertMatchesRegularExpression('/^\d+-1\.json$/', $delayed[0]);
        $due = (int) explode('-', $delayed[0])[0];
        $this->assertGreaterThan((int) (microtime(true) * 1000) + 25000, $due);
        $h->handle();
        $this->assertCount(1, $h->seen, 'not run again before it is due');
    }

    public function testTasksRunInAscendingSequenceOrderEvenBeyondNine(): void
    {
        $h = $this->setUpHandler(...array_fill(0, 15, ['do' => 'success']));
        $h->handle();
        $this->assertSame(range(1, 15), $h->seqs());
    }

    public function testACorruptFileGoesToErrorAndTheRestStillRuns(): void
    {
        $h = $this->setUpHandler(['do' => 'success'], ['do' => 'success']);
        file_put_contents("$this->root/" . self::L . '/inbox/3.json', '{"payload":');
        file_put_contents("$this->root/" . self::L . '/inbox/4.json', '');
        (new Dispatcher($this->root))->dispatch('e', ['do' => 'success']); // takes 5: never overwrites
        $h->handle();
        $this->assertSame([1, 2, 5], $h->seqs());
        $this->assertSame(['1.json', '2.json', '5.json'], $this->stateFiles(self::L, 'archive'));
        $this->assertSame(['3.json', '4.json'], $this->stateFiles(self::L, 'error'));
        $this->assertStringContainsString('not valid JSON', $this->error(3)['error']['reason']);
        $this->assertSame('{"payload":', $this->error(3)['corrupt_content']);
        $this->assertStringContainsString('empty', $this->error(4)['error']['reason']);
    }

    public function testALegacyInboxFileWrittenByTheOriginalIsHandled(): void
    {
        $h = new ScriptedHandler('h', 'e', $this->root);
        file_put_contents("$this->root/" . self::L . '/inbox/7.json',
            '{"payload":{"a":1},"sequence":7,"count":7,"delivery":"2023-10-02T13:18:35+00:00"}');
        $h->handle();
        $this->assertSame([['seq' => 7, 'payload' => ['a' => 1], 'attempt' => 1]], $h->seen);
        $this->assertSame(['7.json'], $this->stateFiles(self::L, 'archive'));
        $this->assertSame(['payload' => ['a' => 1], 'sequence' => 7, 'count' => 7, 'delivery' => '2023-10-02T13:18:35+00:00'],
            $this->readJson(self::L . '/archive/7.json'));
    }

    public function testTheHandlerReceivesAContextWithGetters(): void
    {
        $seen = null;
        $h = new class ('g', 'a', $this->root) extends \Hurah\Event\AbstractHandler {
            public $ctx;
            protected function handleTask(\Hurah\Event\ContextInterface $c): int { $this->ctx = $c; return 0; }
            public function getLogger(): CollectingLogger { return new CollectingLogger(); }
        };
        $id = (new Dispatcher($this->root))->dispatch('a/b', ['x' => 1]);
        $h->handle();
        $c = $h->ctx;
        $this->assertInstanceOf(Context::class, $c);
        $this->assertSame($id, $c->getId());
        $this->assertSame('a/b', (string) $c->getEventType());
        $this->assertSame(1, $c->getSequence());
        $this->assertSame(1, $c->getCount());
        $this->assertSame(1, $c->getAttempt());
        $this->assertNotNull($c->getDelivery());
        $json = json_decode((string) $c->toJson(), true);
        $this->assertSame(['x' => 1], $json['payload']);
        $this->assertSame($id, $json['id']);
    }

    public function testTheLoggerReceivesPsr3Calls(): void
    {
        $h = $this->setUpHandler(['do' => 'throw']);
        $h->handle();
        $warnings = $h->getLogger()->messages('warning');
        $this->assertNotEmpty($warnings);
        $this->assertStringContainsString('thrown for 1', implode("\n", $warnings));
        $this->assertSame('h', $h->getLogger()->records[0][2]['handler']);
    }

    public function testGetQueueListsTheInboxAsContexts(): void
    {
        $h = $this->setUpHandler(['n' => 1], ['n' => 2]);
        $q = $h->getQueue();
        $this->assertCount(2, $q);
        $this->assertSame([['n' => 1], ['n' => 2]], array_map(fn ($c) => $c->getPayload(), $q));
        $this->assertSame(['1.json', '2.json'], $this->stateFiles(self::L, 'inbox'), 'not claimed');
    }

    public function testNothingStaysClaimedAfterHandle(): void
    {
        $h = $this->setUpHandler(['do' => 'success'], ['do' => 'throw'], ['do' => 'retry']);
        $h->max = 5;
        $h->handle();
        $claimed = "$this->root/" . self::L . '/claimed';
        $this->assertSame([], is_dir($claimed) ? array_values(array_diff(scandir($claimed), ['.', '..'])) : []);
    }
}

<?php
declare(strict_types=1);

namespace Hurah\Tests;

use Hurah\Event\Context;
use Hurah\Event\Dispatcher;
use Hurah\Event\EventType;
use Hurah\Exception\EncodingException;
use Hurah\Exception\HurahException;
use Hurah\Exception\InvalidArgumentException;
use Hurah\Exception\IoException;

final class DispatcherTest extends HurahTestCase
{
    private function inboxCount(string $listener): int
    {
        return count($this->stateFiles($listener, 'inbox'));
    }

    public function testAMissingRootIsCreated(): void
    {
        new Dispatcher($this->root . '/deeper');
        $this->assertDirectoryExists($this->root . '/deeper');
    }

    public function testBothDispatchFormsDeliver(): void
    {
        new PlainHandler('l', 'product', $this->root);
        $d = new Dispatcher($this->root);
        $id1 = $d->dispatch(EventType::fromString('product/stored'), new Context(['product_id' => 1]));
        $id2 = $d->dispatch('product/created', ['product_id' => 123]);
        $this->assertNotSame($id1, $id2);
        $this->assertSame(['1.json', '2.json'], $this->stateFiles('product/l_listener', 'inbox'));
        $this->assertSame(['product_id' => 1], $this->readJson('product/l_listener/inbox/1.json')['payload']);
        $this->assertSame(['product_id' => 123], $this->readJson('product/l_listener/inbox/2.json')['payload']);
        $this->assertSame($id2, $this->readJson('product/l_listener/inbox/2.json')['id']);
    }

    public function testDispatchDoesNotMutateTheEventType(): void
    {
        new PlainHandler('l', 'a/b', $this->root);
        new PlainHandler('r', '', $this->root);
        $d = new Dispatcher($this->root);
        $t = new EventType('a', 'b');
        $d->dispatch($t, 1);
        $this->assertSame('a/b', (string) $t);
        $d->dispatch($t, 2); // the original delivered this one to the root listener only
        $this->assertSame(2, $this->inboxCount('a/b/l_listener'));
        $this->assertSame(2, $this->inboxCount('r_listener'));
    }

    public function testEventTreeOwnLevelAncestorsAndRootButNeverBelowAndNeverTwice(): void
    {
        foreach (['own' => 'product/stored', 'parent' => 'product', 'root' => '', 'below' => 'product/stored/deeper',
                  'sibling' => 'product/created', 'other' => 'order'] as $name => $type) {
            new PlainHandler($name, $type, $this->root);
        }
        (new Dispatcher($this->root))->dispatch('product/stored', ['x' => 1]);
        $this->assertSame(1, $this->inboxCount('product/stored/own_listener'));
        $this->assertSame(1, $this->inboxCount('product/parent_listener'));
        $this->assertSame(1, $this->inboxCount('root_listener'));
        $this->assertSame(0, $this->inboxCount('product/stored/deeper/below_listener'));
        $this->assertSame(0, $this->inboxCount('product/created/sibling_listener'));
        $this->assertSame(0, $this->inboxCount('order/other_listener'));
    }

    public function testOriginalDispatchTestOneDispatchIncrementsThreeInboxes(): void
    {
        // Port of hurah/events DispatcherTest::testDispatch.
        $listeners = ['product/price_calculator_listener', 'product/stored/image_scaler_listener', 'product/stored/translation_listener'];
        foreach ($listeners as $l) {
            mkdir("$this->root/$l/inbox", 0755, true);
        }
        $before = array_map(fn ($l) => $this->inboxCount($l), $listeners);
        (new Dispatcher($this->root))->dispatch(new EventType('product', 'stored'), new Context(['id' => 1]));
        foreach ($listeners as $i => $l) {
            $this->assertSame($before[$i] + 1, $this->inboxCount($l), $l);
        }
    }

    public function testOriginalDeliveryTestTrackingSequenceIncrementsAndFirstIsUnchanged(): void
    {
        // Port of hurah/events Helper/DeliveryServiceTest::testDelivery.
        new PlainHandler('price_calculator', 'product', $this->root);
        (new Dispatcher($this->root))->dispatch('product', 1);
        $t1 = $this->readJson('product/price_calculator_listener/tracking.json');
        sleep(1);
        (new Dispatcher($this->root))->dispatch('product', 2);
        $t2 = $this->readJson('product/price_calculator_listener/tracking.json');
        $this->assertSame(['sequence', 'count', 'first', 'last'], array_keys($t2));
        $this->assertSame($t1['sequence'] + 1, $t2['sequence']);
        $this->assertSame($t1['count'] + 1, $t2['count']);
        $this->assertSame($t1['first'], $t2['first']);
        $this->assertNotSame($t1['last'], $t2['last']);
    }

    public function testDeliveryOrderIsTheDispatchOrder(): void
    {
        $h = new ScriptedHandler('o', 'e', $this->root);
        $d = new Dispatcher($this->root);
        for ($i = 1; $i <= 12; $i++) {
            $d->dispatch('e', ['n' => $i]);
        }
        $h->handle();
        $this->assertSame(range(1, 12), $h->seqs());
        $this->assertSame(range(1, 12), array_map(fn ($s) => $s['payload']['n'], $h->seen));
    }

    public function testDispatchManyDeliversEachPairInOrderAndReturnsTheirIds(): void
    {
        $h = new ScriptedHandler('o', 'e', $this->root);
        $d = new Dispatcher($this->root);
        // 'other' reaches no listener: a notice (silenced here), the rest is delivered.
        $ids = @$d->dispatchMany([
            ['e', ['n' => 1]],
            [EventType::fromString('e/sub'), new Context(['n' => 2])],
            ['other', ['n' => 0]],
            ['e', ['n' => 3]],
        ]);
        $this->assertSame(3, $d->lastListenerCount());
        $this->assertCount(4, $ids);
        $this->assertSame(4, count(array_unique($ids)));
        $h->handle();
        $this->assertSame([1, 2, 3], array_map(fn ($s) => $s['payload']['n'], $h->seen));
        $this->assertSame($ids[3], $this->readJson('e/o_listener/archive/3.json')['id']);
        $this->assertSame([], $d->dispatchMany([]));
        // A delay applies to every event of the batch.
        $d->dispatchMany([['e', 1], ['e', 2]], delay: 60);
        $this->assertCount(2, $h->getDelayed());
    }

    public function testDispatchManyChecksEveryPairBeforeWritingAnything(): void
    {
        new ScriptedHandler('o', 'e', $this->root);
        $d = new Dispatcher($this->root);
        foreach ([
            [[['e', 1], 'e']],
            [[['e', 1], ['e']]],
            [[['e', 1], ['../x', 2]]],
        ] as [$events]) {
            try {
                $d->dispatchMany($events);
                $this->fail('accepted ' . json_encode($events));
            } catch (InvalidArgumentException $e) {
                $this->assertMatchesRegularExpression('/#1|\.\./', $e->getMessage());
            }
        }
        $f = fopen('php://memory', 'r');
        try {
            $d->dispatchMany([['e', 1], ['e', ['r' => $f]]]);
            $this->fail('a resource was encoded');
        } catch (EncodingException $e) {
            $this->assertStringContainsString('the payload of event #1', $e->getMessage());
            $this->assertStringContainsString('resource', $e->getMessage());
        }
        $this->assertSame(0, $this->inboxCount('e/o_listener'), 'nothing written');
    }

    public function testTaskFilesCarryTheOriginalKeysFirst(): void
    {
        new PlainHandler('k', 'e', $this->root);
        (new Dispatcher($this->root))->dispatch('e', ['a' => 1]);
        $doc = $this->readJson('e/k_listener/inbox/1.json');
        $this->assertSame(['payload', 'sequence', 'count', 'delivery'], array_slice(array_keys($doc), 0, 4));
        $this->assertSame(1, $doc['sequence']);
        $this->assertSame(1, $doc['count']);
        $this->assertNotFalse(\DateTime::createFromFormat(DATE_ATOM, $doc['delivery']));
        $this->assertSame('e', $doc['event']);
    }

    public function testPayloadKinds(): void
    {
        $h = new ScriptedHandler('p', 'e', $this->root);
        $d = new Dispatcher($this->root);
        $js = new class implements \JsonSerializable {
            public function jsonSerialize(): mixed { return ['js' => true]; }
        };
        $plain = new class {
            public $a = 1;
            protected $b = 2;
            private $c = 3;
        };
        foreach ([null, 42, 1.5, 'text', true, [1, 2], ['k' => 'v'], $js, (object) ['o' => 1], $plain] as $v) {
            $d->dispatch('e', $v);
        }
        $d->dispatch('e'); // no data: null
        $h->handle();
        $this->assertSame([null, 42, 1.5, 'text', true, [1, 2], ['k' => 'v'], ['js' => true], ['o' => 1], ['a' => 1], null],
            array_column($h->seen, 'payload'));
    }

    public function testFsyncOptionAndEnvironment(): void
    {
        $this->assertSame('always', (new Dispatcher($this->root, ['fsync' => 'always']))->getFsync());
        $this->assertSame('never', (new Dispatcher($this->root, ['fsync' => 'never']))->getFsync());
        putenv('HURAH_FSYNC=never');
        $this->assertSame('never', (new Dispatcher($this->root))->getFsync());
        putenv('HURAH_FSYNC=always');
        $this->assertSame('always', (new Dispatcher($this->root))->getFsync());
        $this->assertSame('never', (new Dispatcher($this->root, ['fsync' => 'never']))->getFsync());
        putenv('HURAH_FSYNC');
        $this->assertSame('always', (new Dispatcher($this->root))->getFsync());
        putenv('HURAH_FSYNC=sometimes');
        try {
            new Dispatcher($this->root);
            $this->fail('accepted HURAH_FSYNC=sometimes');
        } catch (InvalidArgumentException $e) {
            $this->assertStringContainsString('HURAH_FSYNC', $e->getMessage());
        }
        $this->expectException(InvalidArgumentException::class);
        new Dispatcher($this->root, ['fsync' => 'sometimes']);
    }

    public function testUnknownOptionsAreRejected(): void
    {
        $this->expectException(InvalidArgumentException::class);
        new Dispatcher($this->root, ['fsnyc' => 'never']);
    }

    public function testBothFsyncPoliciesDeliver(): void
    {
        new PlainHandler('f', 'e', $this->root);
        (new Dispatcher($this->root, ['fsync' => 'always']))->dispatch('e', 1);
        (new Dispatcher($this->root, ['fsync' => 'never']))->dispatch('e', 2);
        $this->assertSame(['1.json', '2.json'], $this->stateFiles('e/f_listener', 'inbox'));
    }

    public static function badEventTypes(): array
    {
        return [['a/../b'], ['.'], ['..'], ['a//b'], ['/a'], ['a/'], ["a\0b"], ['a/x_listener'], ['x_listener']];
    }

    /** @dataProvider badEventTypes */
    public function testBadEventTypesThrowAndCreateNothing(string $bad): void
    {
        new PlainHandler('l', '', $this->root);
        $before = $this->files();
        $dirsBefore = iterator_count(new \RecursiveIteratorIterator(new \RecursiveDirectoryIterator($this->root, \FilesystemIterator::SKIP_DOTS), \RecursiveIteratorIterator::SELF_FIRST));
        try {
            (new Dispatcher($this->root))->dispatch($bad, ['x' => 1]);
            $this->fail('accepted ' . json_encode($bad));
        } catch (InvalidArgumentException $e) {
            $this->assertStringContainsString('invalid event type', $e->getMessage());
        }
        $this->assertSame($before, $this->files());
        $this->assertSame($dirsBefore, iterator_count(new \RecursiveIteratorIterator(new \RecursiveDirectoryIterator($this->root, \FilesystemIterator::SKIP_DOTS), \RecursiveIteratorIterator::SELF_FIRST)));
    }

    public static function badPayloads(): array
    {
        $rec = ['a' => 1];
        $rec['self'] = &$rec;
        $obj = new \stdClass();
        $obj->me = $obj;
        return [
            'resource' => [fopen('php://memory', 'r')],
            'closure' => [fn () => 1],
            'NAN' => [NAN],
            'INF' => [INF],
            '-INF nested' => [['x' => [-INF]]],
            'invalid UTF-8' => ["\xff\xfe"],
            'invalid UTF-8 key' => [["\xff" => 1]],
            'recursive array' => [$rec],
            'recursive object' => [$obj],
            'context with a closure' => [new Context(['f' => fn () => 1])],
        ];
    }

    /** @dataProvider badPayloads */
    public function testUnencodablePayloadsThrowEncodingExceptionAndWriteNothing($payload): void
    {
        new PlainHandler('l', 'e', $this->root);
        $before = $this->files();
        try {
            (new Dispatcher($this->root))->dispatch('e', $payload);
            $this->fail('accepted the payload');
        } catch (EncodingException $e) {
            $this->assertInstanceOf(HurahException::class, $e);
        }
        $this->assertSame($before, $this->files());
        $this->assertSame([], $this->stateFiles('e/l_listener', 'tmp'));
    }

    public function testJsonSerializeExceptionsPropagateUnchanged(): void
    {
        new PlainHandler('l', 'e', $this->root);
        $bad = new class implements \JsonSerializable {
            public function jsonSerialize(): mixed { throw new \LogicException('nope'); }
        };
        try {
            (new Dispatcher($this->root))->dispatch('e', $bad);
            $this->fail('no exception');
        } catch (\LogicException $e) {
            $this->assertSame('nope', $e->getMessage());
        }
        $this->assertSame([], $this->stateFiles('e/l_listener', 'inbox'));
    }

    public function testARootThatCannotBeCreatedIsAnIoException(): void
    {
        mkdir($this->root, 0755, true);
        file_put_contents("$this->root/file", 'x');
        try {
            new Dispatcher("$this->root/file/events");
            $this->fail('no exception');
        } catch (IoException $e) {
            $this->assertStringContainsString("$this->root/file/events", $e->getMessage());
        }
        $this->expectException(IoException::class);
        new PlainHandler('l', 'e', "$this->root/file/events");
    }

    public function testBadHandlerNamesThrowAndCreateNothing(): void
    {
        foreach (['', '../evil', 'a b', '_x', 'a/b'] as $bad) {
            try {
                new PlainHandler($bad, 'e', $this->root);
                $this->fail('accepted ' . json_encode($bad));
            } catch (InvalidArgumentException $e) {
                $this->assertStringContainsString('invalid handler name', $e->getMessage());
            }
        }
        $this->assertDirectoryDoesNotExist($this->root);
    }

    public function testFilesAre0644AndDirectories0755(): void
    {
        $old = umask(022);
        try {
            new PlainHandler('m', 'a/b', $this->root);
            (new Dispatcher($this->root))->dispatch('a/b', 1);
        } finally {
            umask($old);
        }
        clearstatcache();
        $this->assertSame(0644, fileperms("$this->root/a/b/m_listener/inbox/1.json") & 0777);
        $this->assertSame(0644, fileperms("$this->root/a/b/m_listener/tracking.json") & 0777);
        foreach (['a', 'a/b', 'a/b/m_listener', 'a/b/m_listener/inbox'] as $d) {
            $this->assertSame(0755, fileperms("$this->root/$d") & 0777, $d);
        }
    }
}

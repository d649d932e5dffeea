<?php
declare(strict_types=1);

namespace Hurah\Tests;

use Hurah\Event\Dispatcher;
use Hurah\Event\EventType;

/**
 * A dispatch reaches the listeners registered at that moment: the caller can see how many
 * (lastListenerCount()), and one that reaches none raises an E_USER_NOTICE.
 */
final class ListenerCountTest extends HurahTestCase
{
    private array $notices = [];

    /** Runs $f collecting the notices it raises (instead of PHPUnit turning them into errors). */
    private function collectingNotices(callable $f): mixed
    {
        $this->notices = [];
        set_error_handler(function (int $type, string $message): bool {
            $this->notices[] = [$type, $message];
            return true;
        });
        try {
            return $f();
        } finally {
            restore_error_handler();
        }
    }

    public function testADispatchBeforeAnyHandlerReachesNoOneAndSaysSo(): void
    {
        $d = new Dispatcher($this->root);
        $this->assertSame(0, $d->lastListenerCount(), 'before any dispatch');
        $id = $this->collectingNotices(fn () => $d->dispatch('product/created', ['product_id' => 123]));
        $this->assertIsString($id);
        $this->assertNotSame('', $id, 'dispatch() still returns the dispatch id');
        $this->assertSame(0, $d->lastListenerCount());
        $this->assertSame(
            [[E_USER_NOTICE, "hurah: no listener for event type 'product/created': nothing delivered"]],
            $this->notices
        );
    }

    public function testTheNoticeNamesTheTypeAsWrittenAndIsAnOrdinaryNotice(): void
    {
        $d = new Dispatcher($this->root);
        $this->collectingNotices(fn () => $d->dispatch(EventType::fromString('a/b'), 1));
        $this->assertSame("hurah: no listener for event type 'a/b': nothing delivered", $this->notices[0][1]);
        // A real notice: error_reporting (@) and error_get_last() apply as to any other.
        error_clear_last();
        @$d->dispatch('x');
        $last = error_get_last();
        $this->assertSame(E_USER_NOTICE, $last['type']);
        $this->assertSame("hurah: no listener for event type 'x': nothing delivered", $last['message']);
        $this->assertSame(__FILE__, $last['file'], 'reported at the caller');
    }

    public function testTheCountIsTheListenersReached(): void
    {
        new ScriptedHandler('a', 'product', $this->root);
        new ScriptedHandler('b', 'product/created', $this->root);
        new ScriptedHandler('everything', '', $this->root);
        new ScriptedHandler('other', 'order', $this->root);
        $d = new Dispatcher($this->root);
        $this->collectingNotices(function () use ($d) {
            $d->dispatch('product/created', 1);
            $this->assertSame(3, $d->lastListenerCount(), 'its level, its ancestor and the root');
            $d->dispatch('product', 1, delay: 60);
            $this->assertSame(2, $d->lastListenerCount(), 'delayed copies count');
            $d->dispatch('order', 1);
            $this->assertSame(2, $d->lastListenerCount());
        });
        $this->assertSame([], $this->notices, 'no notice when someone listens');
    }

    public function testDispatchManyCountsTheWholeBatchAndNoticesEachEventReachingNoOne(): void
    {
        new ScriptedHandler('a', 'product', $this->root);
        $d = new Dispatcher($this->root);
        $ids = $this->collectingNotices(fn () => $d->dispatchMany([
            ['product/created', 1],
            ['nobody/here', 2],
            ['product', 3],
            ['nor/here', 4],
        ]));
        $this->assertCount(4, $ids, 'the ids are returned');
        $this->assertSame(2, $d->lastListenerCount());
        $this->assertSame([
            [E_USER_NOTICE, "hurah: no listener for event type 'nobody/here': nothing delivered"],
            [E_USER_NOTICE, "hurah: no listener for event type 'nor/here': nothing delivered"],
        ], $this->notices);
        $this->assertSame(['1.json', '2.json'], $this->stateFiles('product/a_listener', 'inbox'));
        $this->collectingNotices(fn () => $d->dispatchMany([]));
        $this->assertSame(0, $d->lastListenerCount());
        $this->assertSame([], $this->notices);
    }

    public function testRegisteringFirstDelivers(): void
    {
        // The README's quick start, in its order: the handler first, then the dispatch.
        $h = new ScriptedHandler('my_handler', 'product', $this->root);
        $d = new Dispatcher($this->root);
        $d->dispatch('product/created', ['product_id' => 123]);
        $this->assertSame(1, $d->lastListenerCount());
        $h->handle();
        $this->assertSame(['product_id' => 123], $h->seen[0]['payload']);
    }
}

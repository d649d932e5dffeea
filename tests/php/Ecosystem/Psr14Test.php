<?php
declare(strict_types=1);

namespace Hurah\Tests\Ecosystem;

use Hurah\Event\Dispatcher;
use Hurah\Examples\TinyContainer;
use Hurah\Examples\TinyEventDispatcher;
use Hurah\Psr14\Exception\ConfigurationException;
use Hurah\Psr14\Exception\UnserializableEventException;
use Hurah\Psr14\JsonEventMapper;
use Hurah\Psr14\ListenerProvider;
use Hurah\Psr14\Names;
use Hurah\Psr14\QueuedListener;
use Hurah\Psr14\QueuedListenerHandler;
use Hurah\Tests\HurahTestCase;
use Psr\EventDispatcher\ListenerProviderInterface;
use Shop\Event\CustomerRenamed;
use Shop\Event\Gadget;
use Shop\Event\HoldsAResource;
use Shop\Event\OrderPlaced;
use Shop\Event\PlainEvent;
use Shop\Event\ShopEvent;
use Shop\Event\StoppableOrder;
use Shop\Listener\Flaky;
use Shop\Listener\Recording;
use Shop\Listener\Reporting;
use Shop\Listener\SendConfirmation;
use Shop\Listener\UpdateStock;
use Shop\Listener\WriteAuditLog;

require_once __DIR__ . '/Support/support.php';
require_once __DIR__ . '/Support/Psr14Fixtures.php';

/** The PSR-14 bridge against a tiny in-repo PSR-14 dispatcher and PSR-11 container. */
final class Psr14Test extends HurahTestCase
{
    private TinyContainer $container;
    private RecordingLogger $logger;

    protected function setUp(): void
    {
        parent::setUp();
        Recording::$journal = [];
        Flaky::$failures = 1;
        $this->logger = new RecordingLogger();
        $this->container = new TinyContainer();
        foreach ([WriteAuditLog::class, SendConfirmation::class, UpdateStock::class, Reporting::class, Flaky::class] as $c) {
            $this->container->set($c, static fn () => new $c());
        }
    }

    private function provider(): ListenerProvider
    {
        return new ListenerProvider($this->root, $this->container);
    }

    /** @return list<string> "Listener: event summary" */
    private function journal(): array
    {
        return array_map(static function (array $r): string {
            $short = substr(strrchr($r[0], '\\'), 1);
            return $short . ': ' . get_class($r[1]) . ' ' . json_encode($r[1]);
        }, Recording::$journal);
    }

    private function work(ListenerProvider $p): array
    {
        return $p->createWorker($this->container, $this->logger)->run(['stopWhenEmpty' => true]);
    }

    public function testSyncListenersRunAtOnceQueuedOnesInTheWorker(): void
    {
        $p = $this->provider();
        $this->assertInstanceOf(ListenerProviderInterface::class, $p);
        $p->addListenerService(OrderPlaced::class, WriteAuditLog::class);
        $p->addListenerService(OrderPlaced::class, SendConfirmation::class); // #[Queued]
        $events = new TinyEventDispatcher($p);

        $events->dispatch(new OrderPlaced(7, [['sku' => 'A', 'qty' => 2]], 19.5));
        $this->assertSame(['WriteAuditLog: Shop\Event\OrderPlaced {"orderId":7,"lines":[{"sku":"A","qty":2}],"total":19.5}'], $this->journal());

        $inbox = 'shop/event/order-placed/shop.listener.send-confirmation_listener/inbox';
        $this->assertSame(['1.json'], $this->files($inbox));
        $task = json_decode(file_get_contents("$this->root/$inbox/1.json"), true);
        $this->assertSame([
            'hurah_psr14' => 1,
            'event_class' => OrderPlaced::class,
            'event' => ['orderId' => 7, 'lines' => [['sku' => 'A', 'qty' => 2]], 'total' => 19.5],
            'listeners' => ['shop/event/order-placed:shop.listener.send-confirmation'],
        ], $task['payload']);

        $stats = $this->work($p);
        $this->assertSame(1, $stats['succeeded']);
        $this->assertSame([
            'WriteAuditLog: Shop\Event\OrderPlaced {"orderId":7,"lines":[{"sku":"A","qty":2}],"total":19.5}',
            'SendConfirmation: Shop\Event\OrderPlaced {"orderId":7,"lines":[{"sku":"A","qty":2}],"total":19.5}',
        ], $this->journal());
    }

    public function testMarkersAndTheExplicitFlagDecide(): void
    {
        $p = $this->provider();
        $p->addListenerService(OrderPlaced::class, UpdateStock::class, 'onOrderPlaced');        // ShouldQueue
        $p->addListenerService(OrderPlaced::class, WriteAuditLog::class, queue: true);         // flag
        $p->addListenerService(OrderPlaced::class, SendConfirmation::class, queue: false);     // flag beats #[Queued]
        $p->addListenerService(ShopEvent::class, Reporting::class, 'collect');                 // #[Queued] on the method

        $keys = array_map(static fn ($r) => $r->key(), $p->queuedListeners());
        $this->assertSame([
            'shop/event/order-placed:shop.listener.update-stock.on-order-placed',
            'shop/event/order-placed:shop.listener.write-audit-log',
            'reports:daily-report',
        ], $keys);

        $listeners = iterator_to_array($p->getListenersForEvent(new OrderPlaced(1)), false);
        $this->assertCount(3, $listeners, 'one wrapper per event type, the sync listener as is');
        $this->assertInstanceOf(QueuedListener::class, $listeners[0]);
        $this->assertSame(['shop/event/order-placed:shop.listener.update-stock.on-order-placed', 'shop/event/order-placed:shop.listener.write-audit-log'], $listeners[0]->listenerKeys());
        $this->assertNotInstanceOf(QueuedListener::class, $listeners[1]);
        $this->assertInstanceOf(QueuedListener::class, $listeners[2]);
        $this->assertSame('reports', $listeners[2]->eventType);

        (new TinyEventDispatcher($p))->dispatch(new OrderPlaced(1));
        $this->assertSame(['SendConfirmation: Shop\Event\OrderPlaced {"orderId":1,"lines":[],"total":0}'], $this->journal());
        $this->assertSame(3, $this->work($p)['succeeded']);
        $this->assertCount(4, Recording::$journal);
    }

    public function testEachQueuedListenerRunsOnceEvenWhenReachedThroughAnAncestorType(): void
    {
        $p = $this->provider();
        // 'shop' is an ancestor of 'shop/order-placed': hurah delivers the second dispatch to
        // both; the copy not addressed to the 'shop' listener must not run it again.
        $p->addListenerService(ShopEvent::class, Reporting::class, 'collect', eventType: 'shop', handlerName: 'all-shop-events');
        $p->addListenerService(OrderPlaced::class, SendConfirmation::class, eventType: 'shop/order-placed');
        (new TinyEventDispatcher($p))->dispatch(new OrderPlaced(3));
        $this->assertCount(2, $this->files('shop/all-shop-events_listener/inbox'), 'two copies reach the ancestor listener');

        $this->work($p);
        $this->assertSame([Reporting::class, SendConfirmation::class], array_map(static fn ($r) => $r[0], Recording::$journal));
        $this->assertCount(2, $this->files('shop/all-shop-events_listener/archive'));
        $this->assertSame([], $this->files('shop/all-shop-events_listener/error'));
    }

    public function testFromArrayIsUsedWhenTheEventHasOne(): void
    {
        $p = $this->provider();
        $p->addListenerService(ShopEvent::class, Reporting::class, 'collect');
        $e = new CustomerRenamed();
        $e->from = 'Ada';
        $e->to = 'Ada L.';
        (new TinyEventDispatcher($p))->dispatch($e);
        $this->work($p);
        $this->assertCount(1, Recording::$journal);
        $got = Recording::$journal[0][1];
        $this->assertInstanceOf(CustomerRenamed::class, $got);
        $this->assertTrue($got->viaFromArray);
        $this->assertSame(['Ada', 'Ada L.'], [$got->from, $got->to]);
    }

    public function testANonSerializableEventFailsAtRegistration(): void
    {
        $p = $this->provider();
        try {
            $p->addListenerService(PlainEvent::class, WriteAuditLog::class, queue: true);
            $this->fail('no exception');
        } catch (UnserializableEventException $e) {
            $this->assertStringContainsString('event class Shop\Event\PlainEvent cannot be queued: it does not implement JsonSerializable', $e->getMessage());
            $this->assertInstanceOf(\Hurah\Exception\InvalidArgumentException::class, $e);
        }
        // Synchronous is fine.
        $p->addListenerService(PlainEvent::class, WriteAuditLog::class);
        $this->assertSame([], $p->queuedListeners());
    }

    public function testANonSerializableEventFailsAtDispatchAndWritesNothing(): void
    {
        $p = $this->provider();
        $p->addListenerService(\JsonSerializable::class, WriteAuditLog::class, queue: true, eventType: 'anything', handlerName: 'audit');
        $events = new TinyEventDispatcher($p);
        $fh = fopen('php://memory', 'r');
        try {
            $events->dispatch(new HoldsAResource($fh));
            $this->fail('no exception');
        } catch (UnserializableEventException $e) {
            $this->assertStringContainsString('event Shop\Event\HoldsAResource cannot be queued: its jsonSerialize() data is not JSON-encodable', $e->getMessage());
        }
        try {
            $events->dispatch(new HoldsAResource(NAN));
            $this->fail('no exception');
        } catch (UnserializableEventException $e) {
            $this->assertStringContainsString('not JSON-encodable', $e->getMessage());
        }
        $anonymous = new class () implements \JsonSerializable {
            public function jsonSerialize(): array
            {
                return [];
            }
        };
        try {
            $events->dispatch($anonymous);
            $this->fail('no exception');
        } catch (UnserializableEventException $e) {
            $this->assertStringContainsString('anonymous event class cannot be queued', $e->getMessage());
        }
        $this->assertSame([], $this->files('anything/audit_listener/inbox'));
    }

    public function testConfigurationErrors(): void
    {
        $p = $this->provider();
        $p->addListenerService(OrderPlaced::class, SendConfirmation::class);
        try {
            $p->addListenerService(OrderPlaced::class, SendConfirmation::class);
            $this->fail('no exception');
        } catch (ConfigurationException $e) {
            $this->assertStringContainsString('hurah listener shop/event/order-placed:shop.listener.send-confirmation is already used', $e->getMessage());
        }
        try {
            $p->addListenerService('No\Such\Event', SendConfirmation::class);
            $this->fail('no exception');
        } catch (ConfigurationException $e) {
            $this->assertStringContainsString('No\Such\Event is neither a class nor an interface', $e->getMessage());
        }
        try {
            (new ListenerProvider($this->root))->addListenerService(OrderPlaced::class, WriteAuditLog::class);
            $this->fail('no exception');
        } catch (ConfigurationException $e) {
            $this->assertStringContainsString('no container', $e->getMessage());
        }
        try {
            $p->addListenerService(OrderPlaced::class, 'mailer', queue: true, handlerName: '../evil');
            $this->fail('no exception');
        } catch (\Hurah\Exception\InvalidArgumentException $e) {
            $this->assertStringContainsString('queued listener mailer::__invoke', $e->getMessage());
            $this->assertStringContainsString('../evil', $e->getMessage());
        }
    }

    public function testAStoppedEventIsNotQueued(): void
    {
        $p = $this->provider();
        $p->addListener(StoppableOrder::class, static function (StoppableOrder $e): void {
            $e->stopped = true;
        });
        $p->addListenerService(StoppableOrder::class, WriteAuditLog::class, queue: true, eventType: 'orders', handlerName: 'audit');
        (new TinyEventDispatcher($p))->dispatch(new StoppableOrder());
        $this->assertSame([], $this->files('orders/audit_listener/inbox'));
    }

    public function testTheWorkerOnlyRebuildsTheRegisteredTypeAndNeverUnserializes(): void
    {
        $p = $this->provider();
        $p->addListenerService(OrderPlaced::class, SendConfirmation::class);
        $p->registerQueues();
        $d = new Dispatcher($this->root);
        $type = 'shop/event/order-placed';
        // A task naming a class that is not an OrderPlaced: INVALID, never constructed.
        $d->dispatch($type, ['hurah_psr14' => 1, 'event_class' => Gadget::class, 'event' => []]);
        // PHP-serialized data is just a string to the bridge.
        $d->dispatch($type, ['hurah_psr14' => 1, 'event_class' => OrderPlaced::class, 'event' => serialize(new Gadget())]);
        // Not an envelope at all.
        $d->dispatch($type, ['orderId' => 5]);
        // Data that does not fit the constructor.
        $d->dispatch($type, ['hurah_psr14' => 1, 'event_class' => OrderPlaced::class, 'event' => ['total' => 3]]);
        Gadget::$built = 0;

        $stats = $this->work($p);
        $this->assertSame(4, $stats['failed']);
        $this->assertSame(0, Gadget::$built);
        $this->assertSame([], Recording::$journal);
        $dir = "$this->root/$type/shop.listener.send-confirmation_listener/error";
        $reasons = array_map(static fn ($i) => json_decode(file_get_contents("$dir/$i.json"), true)['error']['reason'], [1, 2, 3, 4]);
        $this->assertStringContainsString('event class "Shop\Event\Gadget" is not Shop\Event\OrderPlaced', $reasons[0]);
        $this->assertStringContainsString('not a queued PSR-14 event', $reasons[1]);
        $this->assertStringContainsString('not a queued PSR-14 event', $reasons[2]);
        $this->assertStringContainsString('key "orderId" (constructor parameter $orderId) is missing', $reasons[3]);

        // The library never calls unserialize() (code tokens; comments may mention it).
        $calls = [];
        foreach (new \RecursiveIteratorIterator(new \RecursiveDirectoryIterator(REPO . '/php/lib', \FilesystemIterator::SKIP_DOTS)) as $f) {
            foreach (\PhpToken::tokenize(file_get_contents((string) $f)) as $t) {
                if ($t->is(T_STRING) && strtolower($t->text) === 'unserialize') {
                    $calls[] = "$f:$t->line";
                }
            }
        }
        $this->assertSame([], $calls);
    }

    public function testAThrowingListenerIsRetriedThenFailsWithTheExceptionClass(): void
    {
        $p = $this->provider();
        $p->addListenerService(OrderPlaced::class, Flaky::class);
        [$handler] = $p->createHandlers($this->container, $this->logger);
        $events = new TinyEventDispatcher($p);
        $dir = "$this->root/shop/event/order-placed/flaky_listener";

        // handle() runs are deterministic: a RETRY without backoff waits for the next run.
        $events->dispatch(new OrderPlaced(1));
        $handler->handle();
        $this->assertSame([], Recording::$journal);
        $this->assertSame(['1.json'], $this->files('shop/event/order-placed/flaky_listener/inbox'), 'retried');
        $handler->handle();
        $this->assertCount(1, Recording::$journal, 'second run succeeded');

        Flaky::$failures = 10;
        $events->dispatch(new OrderPlaced(2));
        for ($i = 0; $i < 3; $i++) {
            $handler->handle();
        }
        $err = json_decode(file_get_contents("$dir/error/2.json"), true)['error'];
        $this->assertSame('RuntimeException', $err['class']);
        $this->assertStringContainsString('remote API timed out', $err['reason']);
        $this->assertSame(3, $err['attempts'], 'maxAttempts: 2 retries = 3 runs');
        $this->assertCount(1, Recording::$journal);
    }

    public function testWorkerSideHandlersAreOrdinaryHandlers(): void
    {
        $p = $this->provider();
        $p->addListenerService(OrderPlaced::class, SendConfirmation::class);
        $handlers = $p->createHandlers($this->container, $this->logger);
        $this->assertCount(1, $handlers);
        $this->assertInstanceOf(QueuedListenerHandler::class, $handlers[0]);
        $this->assertInstanceOf(\Hurah\Event\AbstractHandler::class, $handlers[0]);
        $this->assertSame('shop/event/order-placed', (string) $handlers[0]->getType());
        (new TinyEventDispatcher($p))->dispatch(new OrderPlaced(9));
        $handlers[0]->handle(); // cron-style, as any handler
        $this->assertCount(1, Recording::$journal);
        $this->assertContains('Queue has 1 items waiting for processing', $this->logger->messages('info'));
    }

    public function testNames(): void
    {
        $this->assertSame('app/event/product-created', Names::eventType('App\Event\ProductCreated'));
        $this->assertSame('app/event/product-created', Names::eventType('\App\Event\ProductCreated'));
        $this->assertSame('http/http-request-failed2', Names::eventType('Http\HTTPRequestFailed2'));
        $this->assertSame('legacy-event-thing', Names::eventType('Legacy_Event_Thing'));
        $this->assertSame('app.listener.send-welcome-mail', Names::handlerName('App\Listener\SendWelcomeMail'));
        $this->assertSame('app.listener.send-welcome-mail.on-created', Names::handlerName('App\Listener\SendWelcomeMail', 'onCreated'));
        $this->assertSame('mailer.welcome', Names::handlerName('mailer.welcome'));
        $this->expectException(\Hurah\Exception\InvalidArgumentException::class);
        Names::eventType("App\\\u{00e9}v\u{00e9}nement");
    }

    public function testMapperRoundTrip(): void
    {
        $m = new JsonEventMapper();
        $data = $m->toArray(new OrderPlaced(4, ['x' => ['y' => 1]], 2.0));
        $this->assertSame(['orderId' => 4, 'lines' => ['x' => ['y' => 1]], 'total' => 2.0], $data);
        $back = $m->fromArray(OrderPlaced::class, $data + ['unknown' => 'ignored']);
        $this->assertEquals(new OrderPlaced(4, ['x' => ['y' => 1]], 2.0), $back);
    }
}

<?php
declare(strict_types=1);

namespace Hurah\Psr14;

use Hurah\Event\Dispatcher;
use Hurah\Event\EventType;
use Hurah\Event\Helper\HandlerName;
use Hurah\Event\Worker;
use Hurah\Exception\InvalidArgumentException;
use Hurah\Psr14\Exception\ConfigurationException;
use Hurah\Psr14\Internal\ListenerDirectory;
use Psr\Container\ContainerInterface;
use Psr\EventDispatcher\ListenerProviderInterface;
use Psr\Log\LoggerInterface;
use ReflectionClass;

/**
 * A PSR-14 listener provider whose listeners may run later, in a hurah worker.
 *
 * Producer side (web request, CLI command): give it to any PSR-14 dispatcher. Synchronous
 * listeners are returned as they are. Queued listeners -- a service whose class carries
 * `#[Queued]` or implements {@see ShouldQueue}, or any service registered with `queue: true` --
 * are replaced by a {@see QueuedListener} that writes the event into hurah as JSON and returns.
 *
 * Worker side: the same registrations give {@see QueuedListenerHandler}s
 * ({@see createHandlers()}, {@see createWorker()}) that rebuild the event and call the real
 * listener service from a PSR-11 container.
 *
 * ```php
 * $provider = new ListenerProvider('/var/lib/events', $container);
 * $provider->addListener(ProductCreated::class, fn (ProductCreated $e) => $audit->log($e));  // sync
 * $provider->addListenerService(ProductCreated::class, SendWelcomeMail::class);              // #[Queued] on the class
 * $provider->addListenerService(ProductCreated::class, 'search.indexer', 'reindex', queue: true);
 *
 * // worker.php (run by systemd/supervisor):
 * $provider->createWorker($container, $logger)->run(['maxTime' => 3600]);
 * ```
 *
 * Delivery: one hurah dispatch per distinct event type among the queued listeners matching an
 * event; each copy names the listeners it is for, so a queued listener also reached through
 * an ancestor event type (hurah delivers to ancestors) runs once per event, not twice.
 */
final class ListenerProvider implements ListenerProviderInterface
{
    /** @var list<array{0: class-string, 1: callable|null, 2: QueuedRegistration|null}> */
    private array $listeners = [];
    /** @var array<string, QueuedRegistration> by key() */
    private array $queued = [];
    /** @var array<string, true> listener directories known to exist (by key()) */
    private array $ensured = [];
    private ?Dispatcher $dispatcher = null;
    private readonly EventMapper $mapper;

    /**
     * @param string $eventRoot the hurah root (as given to Hurah\Event\Dispatcher)
     * @param ContainerInterface|null $container resolves listener services (needed for
     *        synchronous service listeners and on the worker side)
     * @param EventMapper|null $mapper event <-> array (default {@see JsonEventMapper})
     * @param array{fsync?: 'always'|'never'} $dispatcherOptions options of the hurah Dispatcher
     */
    public function __construct(
        private readonly string $eventRoot,
        private readonly ?ContainerInterface $container = null,
        ?EventMapper $mapper = null,
        private readonly array $dispatcherOptions = [],
    ) {
        $this->mapper = $mapper ?? new JsonEventMapper();
    }

    /**
     * A synchronous listener: any callable, called by the PSR-14 dispatcher during dispatch().
     * Closures cannot be queued (a worker could not find them again): register a service.
     *
     * @param class-string $eventClass class or interface the listener accepts
     */
    public function addListener(string $eventClass, callable $listener): self
    {
        $this->assertType($eventClass);
        $this->listeners[] = [$eventClass, $listener, null];
        return $this;
    }

    /**
     * A listener that is a method of a container service.
     *
     * @param class-string $eventClass class or interface the listener accepts
     * @param string $serviceId the container id; if it is not a class name, give $serviceClass
     *        so markers can be read without building the service
     * @param bool|null $queue true: queued; false: synchronous; null: queued if the class (or
     *        the method) has #[Queued] or the class implements ShouldQueue
     * @param string|null $eventType hurah event type (default: the attribute's, else derived
     *        from $eventClass, see Names::eventType())
     * @param string|null $handlerName hurah handler name (default: the attribute's, else
     *        derived from $serviceId and $method, see Names::handlerName())
     * @throws ConfigurationException|Exception\UnserializableEventException|InvalidArgumentException
     */
    public function addListenerService(
        string $eventClass,
        string $serviceId,
        string $method = '__invoke',
        ?bool $queue = null,
        ?string $eventType = null,
        ?string $handlerName = null,
        ?string $serviceClass = null,
        ?int $maxAttempts = null,
        int|float|null $retryDelay = null,
    ): self {
        $this->assertType($eventClass);
        $serviceClass ??= class_exists($serviceId) ? $serviceId : null;
        $marker = $serviceClass !== null ? self::queueMarker($serviceClass, $method) : null;
        $queue ??= $marker !== null;

        if (!$queue) {
            if ($this->container === null) {
                throw new ConfigurationException(
                    "listener service $serviceId::$method is synchronous but the provider has no container to get it from"
                );
            }
            $container = $this->container;
            $this->listeners[] = [$eventClass, static function (object $event) use ($container, $serviceId, $method): void {
                $container->get($serviceId)->{$method}($event);
            }, null];
            return $this;
        }

        $attr = $marker instanceof Queued ? $marker : null;
        $eventType ??= $attr?->eventType ?? Names::eventType($eventClass);
        $handlerName ??= $attr?->handlerName ?? Names::handlerName($serviceId, $method);
        $what = "queued listener $serviceId::$method for $eventClass";
        try {
            $eventType = (string) EventType::fromString($eventType);
            $handlerName = (string) new HandlerName($handlerName);
        } catch (InvalidArgumentException $e) {
            throw new InvalidArgumentException("$what: {$e->getMessage()}", 0, $e);
        }
        if (class_exists($eventClass) && !(new ReflectionClass($eventClass))->isAbstract()) {
            // Concrete classes are checked now; for interfaces and abstract classes the actual
            // event classes are checked at dispatch.
            $this->mapper->assertMappable($eventClass);
        }
        $reg = new QueuedRegistration(
            $eventClass,
            $serviceId,
            $method,
            $eventType,
            $handlerName,
            $maxAttempts ?? $attr?->maxAttempts ?? 0,
            $retryDelay ?? $attr?->retryDelay,
        );
        if (isset($this->queued[$reg->key()])) {
            $other = $this->queued[$reg->key()];
            throw new ConfigurationException(sprintf(
                '%s: hurah listener %s is already used by %s::%s; give one of them another handlerName',
                $what,
                $reg->key(),
                $other->serviceId,
                $other->method
            ));
        }
        $this->queued[$reg->key()] = $reg;
        $this->listeners[] = [$eventClass, null, $reg];
        return $this;
    }

    public function getListenersForEvent(object $event): iterable
    {
        $groups = [];
        foreach ($this->listeners as $i => [$type, $callable, $reg]) {
            if ($reg !== null && $event instanceof $type) {
                $groups[$reg->eventType][] = $reg;
            }
        }
        $yielded = [];
        foreach ($this->listeners as [$type, $callable, $reg]) {
            if (!$event instanceof $type) {
                continue;
            }
            if ($reg === null) {
                yield $callable;
            } elseif (!isset($yielded[$reg->eventType])) {
                $yielded[$reg->eventType] = true;
                yield new QueuedListener($this, $reg->eventType, $groups[$reg->eventType]);
            }
        }
    }

    /**
     * @internal called by QueuedListener: writes the event into hurah for its listeners.
     * @return string the hurah dispatch id
     */
    public function enqueue(object $event, QueuedListener $for): string
    {
        $data = $this->mapper->toArray($event); // throws before anything is written
        $this->ensureListenerDirectories($for->registrations);
        return $this->dispatcher()->dispatch($for->eventType, [
            'hurah_psr14' => 1,
            'event_class' => get_class($event),
            'event' => $data,
            'listeners' => $for->listenerKeys(),
        ]);
    }

    /**
     * Creates the listener directory of every queued listener. hurah delivers an event to the
     * listeners that exist when it is dispatched; the provider also does this lazily before
     * the first dispatch to each listener, and the worker does it when it starts, so calling
     * this (e.g. at deploy time) is only needed to make the directories visible early.
     */
    public function registerQueues(): void
    {
        $this->ensureListenerDirectories(array_values($this->queued));
    }

    /** @return list<QueuedRegistration> every queued listener, in registration order */
    public function queuedListeners(): array
    {
        return array_values($this->queued);
    }

    /**
     * Worker side: one handler per queued listener.
     *
     * @return list<QueuedListenerHandler>
     */
    public function createHandlers(?ContainerInterface $container = null, ?LoggerInterface $logger = null): array
    {
        $container ??= $this->container;
        if ($container === null) {
            throw new ConfigurationException('createHandlers() needs a container to get the listener services from');
        }
        $out = [];
        foreach ($this->queued as $reg) {
            $out[] = QueuedListenerHandler::fromRegistration($reg, $this->eventRoot, $container, $this->mapper, $logger);
        }
        return $out;
    }

    /**
     * Worker side: a Hurah\Event\Worker serving every queued listener in one process.
     * `->run(['maxTime' => 3600, 'memoryLimit' => '128M'])` it from worker.php.
     */
    public function createWorker(?ContainerInterface $container = null, ?LoggerInterface $logger = null): Worker
    {
        $handlers = $this->createHandlers($container, $logger);
        if ($handlers === []) {
            throw new ConfigurationException('no queued listener is registered: nothing for a worker to run');
        }
        $worker = new Worker();
        foreach ($handlers as $h) {
            $worker->add($h);
        }
        return $worker;
    }

    public function getEventRoot(): string
    {
        return $this->eventRoot;
    }

    private function dispatcher(): Dispatcher
    {
        return $this->dispatcher ??= new Dispatcher($this->eventRoot, $this->dispatcherOptions ?: null);
    }

    /** @param list<QueuedRegistration> $regs */
    private function ensureListenerDirectories(array $regs): void
    {
        foreach ($regs as $reg) {
            if (!isset($this->ensured[$reg->key()])) {
                new ListenerDirectory($reg->handlerName, $reg->eventType, $this->eventRoot);
                $this->ensured[$reg->key()] = true;
            }
        }
    }

    private function assertType(string $eventClass): void
    {
        if (!class_exists($eventClass) && !interface_exists($eventClass)) {
            throw new ConfigurationException("event type $eventClass is neither a class nor an interface");
        }
    }

    /** The #[Queued] attribute (method first, then class), true for ShouldQueue, else null. */
    private static function queueMarker(string $class, string $method): Queued|bool|null
    {
        $rc = new ReflectionClass($class);
        if ($rc->hasMethod($method)) {
            foreach ($rc->getMethod($method)->getAttributes(Queued::class) as $a) {
                return $a->newInstance();
            }
        }
        for ($c = $rc; $c !== false; $c = $c->getParentClass()) {
            foreach ($c->getAttributes(Queued::class) as $a) {
                return $a->newInstance();
            }
        }
        return $rc->implementsInterface(ShouldQueue::class) ? true : null;
    }
}

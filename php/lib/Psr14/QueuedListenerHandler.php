<?php
declare(strict_types=1);

namespace Hurah\Psr14;

use Hurah\Event\AbstractContext;
use Hurah\Event\AbstractHandler;
use Hurah\Event\ContextInterface;
use Hurah\Event\Task;
use Psr\Container\ContainerInterface;
use Psr\Log\LoggerInterface;

/**
 * Worker side of a queued PSR-14 listener: turns a task written by a {@see QueuedListener}
 * back into the event object and calls the real listener, `$container->get($serviceId)->$method($event)`.
 *
 * - The task says which event class to rebuild; only the class the listener was registered
 *   for (or a subclass / implementation of it) is accepted, and it is rebuilt through the
 *   {@see EventMapper} (never `unserialize()`). Anything else is INVALID (error/, not retried).
 * - A copy addressed to other listeners (reached through hurah's ancestor fan-out) is skipped.
 * - The listener throwing is retried `maxAttempts` times (after `retryDelay` seconds), then the
 *   task goes to error/ with the exception's class and message.
 * - Log lines go to the PSR-3 logger given (stderr without one).
 */
class QueuedListenerHandler extends AbstractHandler
{
    private readonly EventMapper $mapper;
    private readonly string $key;

    /**
     * @param class-string $eventClass the type the listener accepts (class or interface)
     */
    public function __construct(
        mixed $name,
        mixed $eventType,
        mixed $eventRoot,
        private readonly ContainerInterface $container,
        private readonly string $serviceId,
        private readonly string $method = '__invoke',
        private readonly string $eventClass = \JsonSerializable::class,
        ?EventMapper $mapper = null,
        private readonly ?LoggerInterface $logger = null,
        private readonly int $maxRetries = 0,
        private readonly int|float|null $delay = null,
    ) {
        parent::__construct($name, $eventType, $eventRoot);
        $this->mapper = $mapper ?? new JsonEventMapper();
        $this->key = $this->getType() . ':' . $name;
    }

    public static function fromRegistration(
        QueuedRegistration $reg,
        string $eventRoot,
        ContainerInterface $container,
        ?EventMapper $mapper = null,
        ?LoggerInterface $logger = null,
    ): self {
        return new self(
            $reg->handlerName,
            $reg->eventType,
            $eventRoot,
            $container,
            $reg->serviceId,
            $reg->method,
            $reg->eventClass,
            $mapper,
            $logger,
            $reg->maxAttempts,
            $reg->retryDelay,
        );
    }

    public function getLogger(): ?LoggerInterface
    {
        return $this->logger;
    }

    protected function maxAttempts(): int
    {
        return $this->maxRetries;
    }

    protected function retryDelay(int $attempt): float|int|null
    {
        return $this->delay;
    }

    protected function handleTask(ContextInterface $context): int
    {
        $task = $context->getPayload();
        if (!is_array($task) || ($task['hurah_psr14'] ?? null) !== 1
            || !is_string($task['event_class'] ?? null) || !is_array($task['event'] ?? null)) {
            $this->addFailureInfo('not a queued PSR-14 event: expected {"hurah_psr14":1,"event_class":"...","event":{...}}');
            return Task::INVALID;
        }
        if (isset($task['listeners']) && is_array($task['listeners']) && !in_array($this->key, $task['listeners'], true)) {
            // A copy for listeners of another event type, delivered here because hurah also
            // delivers to ancestor types; the copy addressed to this listener runs it.
            $this->logger?->debug("skipping a copy addressed to other listeners", ['listener' => $this->key]);
            return Task::SUCCESS;
        }
        $class = ltrim($task['event_class'], '\\');
        if (!class_exists($class) || !is_a($class, $this->eventClass, true)) {
            $this->addFailureInfo(sprintf(
                'event class "%s" is not %s (the type listener %s::%s was registered for)',
                $class,
                $this->eventClass,
                $this->serviceId,
                $this->method
            ));
            return Task::INVALID;
        }
        try {
            $event = $this->mapper->fromArray($class, $task['event']);
        } catch (\Throwable $e) {
            $this->addFailureInfo($e->getMessage());
            return Task::INVALID;
        }
        $listener = $this->container->get($this->serviceId);
        try {
            $listener->{$this->method}($event);
        } catch (\Throwable $e) {
            $attempt = $context instanceof AbstractContext ? $context->getAttempt() : 1;
            if ($attempt <= $this->maxRetries) {
                $this->addFailureInfo(get_class($e) . ': ' . $e->getMessage());
                return Task::RETRY;
            }
            throw $e;
        }
        return Task::SUCCESS;
    }
}

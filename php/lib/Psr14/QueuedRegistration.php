<?php
declare(strict_types=1);

namespace Hurah\Psr14;

/**
 * One queued listener as the provider registered it: which service method runs, for which
 * event class, in which hurah listener (`<eventType>/<handlerName>_listener/`).
 */
final class QueuedRegistration
{
    /**
     * @param class-string $eventClass the type the listener was registered for (class or interface)
     */
    public function __construct(
        public readonly string $eventClass,
        public readonly string $serviceId,
        public readonly string $method,
        public readonly string $eventType,
        public readonly string $handlerName,
        public readonly int $maxAttempts = 0,
        public readonly int|float|null $retryDelay = null,
    ) {
    }

    /** `event/type:handler-name`, as `hurah failed --listener` spells a listener. */
    public function key(): string
    {
        return $this->eventType . ':' . $this->handlerName;
    }
}

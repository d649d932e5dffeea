<?php
declare(strict_types=1);

namespace Hurah\Psr14;

/**
 * The callable a {@see ListenerProvider} returns in place of queued listeners: invoking it
 * only writes the event into hurah (one dispatch to `$eventType`, addressed to the listed
 * queued listeners), in roughly constant time whatever the listeners do.
 */
final class QueuedListener
{
    /**
     * @param list<QueuedRegistration> $registrations the queued listeners served by this
     *        dispatch (all with the same event type, all matching the event)
     * @internal built by ListenerProvider::getListenersForEvent()
     */
    public function __construct(
        private readonly ListenerProvider $provider,
        public readonly string $eventType,
        public readonly array $registrations,
    ) {
    }

    /**
     * @throws Exception\UnserializableEventException when the event cannot be queued
     */
    public function __invoke(object $event): void
    {
        $this->provider->enqueue($event, $this);
    }

    /** @return list<string> `type:handler` of every listener this wrapper queues for */
    public function listenerKeys(): array
    {
        return array_map(static fn (QueuedRegistration $r) => $r->key(), $this->registrations);
    }
}

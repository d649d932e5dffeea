<?php
declare(strict_types=1);

namespace Hurah\Examples;

use Psr\EventDispatcher\EventDispatcherInterface;
use Psr\EventDispatcher\ListenerProviderInterface;
use Psr\EventDispatcher\StoppableEventInterface;

/** The whole of a PSR-14 dispatcher: call each listener the provider gives, in order. */
final class TinyEventDispatcher implements EventDispatcherInterface
{
    public function __construct(private readonly ListenerProviderInterface $provider)
    {
    }

    public function dispatch(object $event): object
    {
        foreach ($this->provider->getListenersForEvent($event) as $listener) {
            if ($event instanceof StoppableEventInterface && $event->isPropagationStopped()) {
                break;
            }
            $listener($event);
        }
        return $event;
    }
}

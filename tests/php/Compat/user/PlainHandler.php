<?php

namespace App;

use Hurah\Event\EventType;
use Hurah\Event\HandlerInterface;
use Hurah\Event\Helper\HandlerName;
use Hurah\Types\Type\Path;

/** A plain HandlerInterface implementation with the original runner's constructor arguments. */
class PlainHandler implements HandlerInterface
{
    private $eventType;

    public function __construct(HandlerName $name, EventType $eventType, Path $eventRoot)
    {
        $this->eventType = $eventType;
        Out::line("plain $name " . implode('/', $eventType->asArray()) . ' ' . get_class($eventRoot) . ' ' . $eventRoot->getValue());
    }

    public function handle(): void
    {
        Out::line('plain handle()');
    }

    public function getType(): EventType
    {
        return $this->eventType;
    }
}

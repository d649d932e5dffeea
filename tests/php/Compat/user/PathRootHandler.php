<?php

namespace App;

use Hurah\Event\AbstractHandler;
use Hurah\Event\ContextInterface;
use Hurah\Event\EventType;
use Hurah\Event\Helper\HandlerName;
use Hurah\Event\Task;
use Hurah\Types\Type\Path;
use Psr\Log\LoggerInterface;
use Psr\Log\NullLogger;

/** A handler whose constructor declares the original's parameter types, Path included. */
class PathRootHandler extends AbstractHandler
{
    public function __construct(HandlerName $name, EventType $eventType, Path $eventRoot)
    {
        Out::line('constructed with ' . get_class($eventRoot) . ' ' . $eventRoot);
        parent::__construct($name, $eventType, $eventRoot);
    }

    public function getLogger(): LoggerInterface
    {
        return new NullLogger();
    }

    protected function handleTask(ContextInterface $oContext): int
    {
        Out::line('handled ' . json_encode($oContext->getPayload()));
        return Task::SUCCESS;
    }
}

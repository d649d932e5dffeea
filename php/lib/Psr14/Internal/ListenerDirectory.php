<?php
declare(strict_types=1);

namespace Hurah\Psr14\Internal;

use Hurah\Event\AbstractHandler;
use Hurah\Event\ContextInterface;
use Hurah\Event\Task;

/**
 * @internal Constructing a handler registers its listener directory; the producer side uses
 * this to make sure a queued listener's directory exists before the first dispatch to it
 * (hurah delivers to the listeners that exist at dispatch time). Never runs tasks.
 */
final class ListenerDirectory extends AbstractHandler
{
    protected function handleTask(ContextInterface $context): int
    {
        return Task::RETRY;
    }
}

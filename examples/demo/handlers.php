<?php
// Handlers written exactly as for hurah/events (v1.0.26 API).
use Hurah\Event\AbstractHandler;
use Hurah\Event\ContextInterface;
use Hurah\Event\Task;

/** Listens to product/stored: makes thumbnails; refuses products without an image. */
class Thumbnailer extends AbstractHandler
{
    protected function handleTask(ContextInterface $task): int
    {
        $p = $task->getPayload();
        if (empty($p['image'])) {
            throw new InvalidArgumentException("product {$p['product_id']} has no image");
        }
        printf("  thumbnailer: product %d, %s -> %s.thumb.jpg (task %d, attempt %d)\n",
            $p['product_id'], $p['image'], basename($p['image'], '.jpg'),
            $task->getSequence(), $task->getAttempt());
        return Task::SUCCESS;
    }
}

/** Listens at the root: sees every event. */
class Auditor extends AbstractHandler
{
    protected function handleTask(ContextInterface $task): int
    {
        printf("  auditor:     %s %s\n", $task->getEventType(), json_encode($task->getPayload()));
        return Task::SUCCESS;
    }
}

<?php

namespace App;

use Hurah\Event\AbstractHandler;
use Hurah\Event\ContextInterface;
use Hurah\Event\Task;
use Hurah\Types\Type\Json;
use Psr\Log\LoggerInterface;
use Psr\Log\NullLogger;

/** An AbstractHandler subclass in the original's style (its README handler, made valid). */
class ImageScaler extends AbstractHandler
{
    /** @var array[] what handleTask() saw */
    public static $seen = [];
    /** @var int the status handleTask() returns (unless the payload names one) */
    public static $status = Task::SUCCESS;

    public function getLogger(): LoggerInterface
    {
        return new NullLogger();
    }

    protected function handleTask(ContextInterface $oContext): int
    {
        $payload = $oContext->getPayload();
        self::$seen[] = [
            'payload' => $payload,
            'class' => get_class($oContext),
            'sequence' => $oContext->getSequence(),
            'json' => $this->text($oContext->toJson()),
        ];
        $this->addFailureInfo('scaler saw ' . json_encode($payload));
        return self::$status;
    }

    protected function maxAttempts(): int
    {
        return 2;
    }

    private function text(Json $json): string
    {
        return (string) $json;
    }
}

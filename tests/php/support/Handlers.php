<?php
declare(strict_types=1);

namespace Hurah\Tests;

use Hurah\Event\AbstractHandler;
use Hurah\Event\ContextInterface;
use Hurah\Event\Task;

/** A PSR-3 style logger that keeps what it is told. */
class CollectingLogger
{
    public array $records = [];

    public function __call(string $level, array $args): void
    {
        $this->records[] = [$level, $args[0] ?? '', $args[1] ?? []];
    }

    public function messages(?string $level = null): array
    {
        return array_values(array_map(fn ($r) => $r[1], array_filter($this->records, fn ($r) => $level === null || $r[0] === $level)));
    }
}

/**
 * A handler driven by its payload: `{"do": "success"|"invalid"|"failure"|"throw"|"error"|
 * "retry"|"null"|"code", "code": N}`. Records what it saw. Declares properties that a base
 * class with properties would clash with ($logger, $name).
 */
class ScriptedHandler extends AbstractHandler
{
    public array $seen = [];
    public int $max = 0;
    public ?float $delay = null;
    public array $failureInfo = [];
    private CollectingLogger $logger;
    protected string $name = 'shadowing is fine';

    public function __construct($name, $type, $root)
    {
        parent::__construct($name, $type, $root);
        $this->logger = new CollectingLogger();
    }

    public function getLogger(): CollectingLogger
    {
        return $this->logger;
    }

    protected function maxAttempts(): int
    {
        return $this->max;
    }

    protected function retryDelay(int $attempt): float|int|null
    {
        return $this->delay;
    }

    protected function handleTask(ContextInterface $context): int
    {
        $p = $context->getPayload();
        $this->seen[] = ['seq' => $context->getSequence(), 'payload' => $p, 'attempt' => $context->getAttempt()];
        if ($this->failureInfo) {
            $this->addFailureInfo(...$this->failureInfo);
        }
        $do = is_array($p) ? ($p['do'] ?? 'success') : 'success';
        switch ($do) {
            case 'invalid':
                return Task::INVALID;
            case 'failure':
                return Task::FAILURE;
            case 'retry':
                return Task::RETRY;
            case 'throw':
                throw new \DomainException('thrown for ' . $context->getSequence());
            case 'error':
                return intdiv(1, 0);
            case 'null':
                return $this->returnsNull();
            case 'code':
                return (int) $p['code'];
            default:
                return Task::SUCCESS;
        }
    }

    private function returnsNull()
    {
        return null; // handleTask(): int turns this into a TypeError
    }

    public function seqs(): array
    {
        return array_column($this->seen, 'seq');
    }
}

/** The smallest handler: no logger, no maxAttempts. */
class PlainHandler extends AbstractHandler
{
    public int $runs = 0;

    protected function handleTask(ContextInterface $context): int
    {
        $this->runs++;
        return Task::SUCCESS;
    }
}

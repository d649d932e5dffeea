<?php
declare(strict_types=1);

namespace Shop\Event;

use Psr\EventDispatcher\StoppableEventInterface;

interface ShopEvent
{
}

final class OrderPlaced implements ShopEvent, \JsonSerializable
{
    public function __construct(public readonly int $orderId, public readonly array $lines = [], public readonly float $total = 0.0)
    {
    }

    public function jsonSerialize(): array
    {
        return ['orderId' => $this->orderId, 'lines' => $this->lines, 'total' => $this->total];
    }
}

/** Rebuilt through fromArray() (its constructor takes no data). */
final class CustomerRenamed implements ShopEvent, \JsonSerializable
{
    public string $from = '';
    public string $to = '';
    public bool $viaFromArray = false;

    public static function fromArray(array $data): self
    {
        $e = new self();
        $e->from = $data['old'];
        $e->to = $data['new'];
        $e->viaFromArray = true;
        return $e;
    }

    public function jsonSerialize(): array
    {
        return ['old' => $this->from, 'new' => $this->to];
    }
}

/** Not JsonSerializable: cannot be queued. */
final class PlainEvent
{
    public function __construct(public int $id = 1)
    {
    }
}

/** JsonSerializable, but carries something that is not JSON. */
final class HoldsAResource implements \JsonSerializable
{
    public function __construct(public readonly mixed $handle)
    {
    }

    public function jsonSerialize(): array
    {
        return ['handle' => $this->handle];
    }
}

final class StoppableOrder implements \JsonSerializable, StoppableEventInterface
{
    public bool $stopped = false;

    public function isPropagationStopped(): bool
    {
        return $this->stopped;
    }

    public function jsonSerialize(): array
    {
        return [];
    }
}

/** Constructing it leaves a trace: a task naming it must never build it. */
final class Gadget implements \JsonSerializable
{
    public static int $built = 0;

    public function __construct()
    {
        self::$built++;
    }

    public function jsonSerialize(): array
    {
        return [];
    }
}

namespace Shop\Listener;

use Hurah\Psr14\Queued;
use Hurah\Psr14\ShouldQueue;
use Shop\Event\OrderPlaced;

/** Records calls in a shared static journal: [listener, event]. */
abstract class Recording
{
    public static array $journal = [];

    protected function record(object $event): void
    {
        self::$journal[] = [static::class, $event];
    }
}

final class WriteAuditLog extends Recording
{
    public function __invoke(object $event): void
    {
        $this->record($event);
    }
}

#[Queued]
final class SendConfirmation extends Recording
{
    public function __invoke(OrderPlaced $event): void
    {
        $this->record($event);
    }
}

final class UpdateStock extends Recording implements ShouldQueue
{
    public function onOrderPlaced(OrderPlaced $event): void
    {
        $this->record($event);
    }
}

final class Reporting extends Recording
{
    #[Queued(eventType: 'reports', handlerName: 'daily-report')]
    public function collect(object $event): void
    {
        $this->record($event);
    }
}

/** Fails the first $failures calls. */
#[Queued(handlerName: 'flaky', maxAttempts: 2)]
final class Flaky extends Recording
{
    public static int $failures = 1;

    public function __invoke(object $event): void
    {
        if (self::$failures-- > 0) {
            throw new \RuntimeException('remote API timed out');
        }
        $this->record($event);
    }
}

<?php
declare(strict_types=1);

namespace Hurah\Psr14;

use Hurah\Psr14\Exception\UnserializableEventException;

/**
 * Turns event objects into JSON-compatible arrays (producer side) and back (worker side).
 * A queued event travels as JSON in the task file; it is never `serialize()`d, so a task file
 * can never make the worker instantiate arbitrary classes or run magic methods (object
 * injection). The worker only rebuilds classes that are the listener's registered event type
 * or a subclass of it.
 *
 * The default, {@see JsonEventMapper}, needs events that implement `JsonSerializable` and have
 * either a `public static function fromArray(array $data): static` or a constructor whose
 * parameter names match the keys. Implement this interface to plug in anything else (a
 * serializer component, hand-written mappers per class, ...).
 */
interface EventMapper
{
    /**
     * Throws if events of `$class` can never be queued (checked when a queued listener is
     * registered for a concrete class, and once per class at dispatch).
     *
     * @param class-string $class
     * @throws UnserializableEventException
     */
    public function assertMappable(string $class): void;

    /**
     * The event as an array of JSON-encodable values (what the worker's `fromArray()` gets).
     *
     * @throws UnserializableEventException
     */
    public function toArray(object $event): array;

    /**
     * The event rebuilt from `toArray()`'s output (decoded from JSON: objects are arrays).
     *
     * @template T of object
     * @param class-string<T> $class
     * @return T
     * @throws UnserializableEventException when the data does not fit the class
     */
    public function fromArray(string $class, array $data): object;
}

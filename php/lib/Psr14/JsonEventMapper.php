<?php
declare(strict_types=1);

namespace Hurah\Psr14;

use Hurah\Psr14\Exception\UnserializableEventException;
use JsonSerializable;
use ReflectionClass;
use ReflectionMethod;
use ReflectionNamedType;

/**
 * The default {@see EventMapper}:
 *
 * - out: `$event->jsonSerialize()`, which must return an array of JSON-encodable values;
 * - in:  `Event::fromArray($data)` if the class has a public static `fromArray()`, otherwise
 *        `new Event(...)` with the constructor's parameters taken from the keys by name
 *        (parameters with a default may be missing; unknown keys are ignored).
 *
 * ```php
 * final class ProductCreated implements JsonSerializable
 * {
 *     public function __construct(public readonly int $productId, public readonly string $sku) {}
 *     public function jsonSerialize(): array { return ['productId' => $this->productId, 'sku' => $this->sku]; }
 * }
 * ```
 */
final class JsonEventMapper implements EventMapper
{
    /** @var array<class-string, true> classes already checked */
    private array $checked = [];

    public function assertMappable(string $class): void
    {
        if (isset($this->checked[$class])) {
            return;
        }
        if (!class_exists($class)) {
            throw new UnserializableEventException("event class $class does not exist");
        }
        $rc = new ReflectionClass($class);
        if ($rc->isAnonymous()) {
            throw new UnserializableEventException(
                "an anonymous event class cannot be queued: the worker could not name it again"
            );
        }
        if (!$rc->implementsInterface(JsonSerializable::class)) {
            throw new UnserializableEventException(
                "event class $class cannot be queued: it does not implement JsonSerializable "
                . "(implement jsonSerialize() returning an array, or pass your own Hurah\\Psr14\\EventMapper)"
            );
        }
        if ($rc->isAbstract() || $rc->isInterface()) {
            throw new UnserializableEventException("event class $class cannot be queued: it is abstract");
        }
        if (!self::hasFromArray($rc)) {
            $ctor = $rc->getConstructor();
            if ($ctor !== null && !$ctor->isPublic()) {
                throw new UnserializableEventException(
                    "event class $class cannot be queued: it has neither a public static fromArray(array) "
                    . "nor a public constructor to rebuild it from its data"
                );
            }
        }
        $this->checked[$class] = true;
    }

    public function toArray(object $event): array
    {
        $class = get_class($event);
        $this->assertMappable($class);
        /** @var JsonSerializable $event */
        $data = $event->jsonSerialize();
        if (!is_array($data)) {
            throw new UnserializableEventException(sprintf(
                'event %s cannot be queued: jsonSerialize() must return an array, it returned %s',
                $class,
                get_debug_type($data)
            ));
        }
        try {
            $json = json_encode($data, JSON_THROW_ON_ERROR | JSON_PRESERVE_ZERO_FRACTION | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
            // What the worker will see: plain arrays and scalars, whatever objects were inside.
            $plain = json_decode($json, true, 512, JSON_THROW_ON_ERROR);
        } catch (\JsonException $e) {
            throw new UnserializableEventException(
                "event $class cannot be queued: its jsonSerialize() data is not JSON-encodable ({$e->getMessage()})",
                0,
                $e
            );
        }
        return is_array($plain) ? $plain : [];
    }

    public function fromArray(string $class, array $data): object
    {
        $this->assertMappable($class);
        $rc = new ReflectionClass($class);
        try {
            if (self::hasFromArray($rc)) {
                $event = $class::fromArray($data);
            } else {
                $event = $rc->newInstanceArgs(self::constructorArgs($rc, $data));
            }
        } catch (UnserializableEventException $e) {
            throw $e;
        } catch (\Throwable $e) {
            throw new UnserializableEventException(
                "cannot rebuild event $class from its data: " . get_class($e) . ': ' . $e->getMessage(),
                0,
                $e
            );
        }
        if (!$event instanceof $class) {
            throw new UnserializableEventException(
                "$class::fromArray() returned " . get_debug_type($event) . ", not a $class"
            );
        }
        return $event;
    }

    private static function hasFromArray(ReflectionClass $rc): bool
    {
        if (!$rc->hasMethod('fromArray')) {
            return false;
        }
        $m = $rc->getMethod('fromArray');
        return $m->isPublic() && $m->isStatic();
    }

    /** @return array<string, mixed> named arguments */
    private static function constructorArgs(ReflectionClass $rc, array $data): array
    {
        $ctor = $rc->getConstructor();
        if ($ctor === null) {
            return [];
        }
        $args = [];
        foreach ($ctor->getParameters() as $p) {
            if ($p->isVariadic()) {
                break;
            }
            $name = $p->getName();
            if (array_key_exists($name, $data)) {
                $args[$name] = $data[$name];
            } elseif (!$p->isOptional()) {
                throw new UnserializableEventException(sprintf(
                    'cannot rebuild event %s: key "%s" (constructor parameter $%s) is missing from its data; '
                    . 'jsonSerialize() keys must match the constructor parameter names, or add a static fromArray()',
                    $rc->getName(),
                    $name,
                    $name
                ));
            }
        }
        return $args;
    }
}

<?php
/*
 * The public API of hurah/events v1.0.26 (namespace Hurah\Event), as data: every class and
 * interface, its methods with modifiers, parameter names and types, and return types (none where
 * the original declared none), its constants and protected properties. Source: the original's
 * src/ (see the behaviour reference, section 1). Used by SignatureTest to compare with what the
 * extension declares, through Reflection.
 *
 * Method strings are written as SignatureTest::describe() prints a ReflectionMethod.
 * `Path`, `PathCollection`, `Json` are Hurah\Types\Type\*; `LoggerInterface` is Psr\Log\*.
 */

return [
    'Hurah\Event\ContextInterface' => [
        'kind' => 'interface',
        'methods' => [
            '__construct' => 'abstract public function __construct($data)',
            'fromPath' => 'abstract public static function fromPath(Hurah\Types\Type\Path $path): Hurah\Event\ContextInterface',
            'getPayload' => 'abstract public function getPayload()',
            'toJson' => 'abstract public function toJson(): Hurah\Types\Type\Json',
            'getSequence' => 'abstract public function getSequence(): int',
            'setSequence' => 'abstract public function setSequence(int $sequence)',
            'setCount' => 'abstract public function setCount(int $count)',
            'setDelivery' => 'abstract public function setDelivery(string $delivery)',
        ],
    ],
    'Hurah\Event\AbstractContext' => [
        'kind' => 'abstract class',
        'implements' => ['Hurah\Event\ContextInterface'],
        'properties' => [
            'data' => 'protected array $data',
            'sequence' => 'protected int $sequence',
            'count' => 'protected int $count',
            'delivery' => 'protected string $delivery',
        ],
        'methods' => [
            '__construct' => 'public function __construct($data)',
            // Not defined by AbstractContext: inherited from the interface, subclasses define it.
            'fromPath' => 'abstract public static function fromPath(Hurah\Types\Type\Path $path): Hurah\Event\ContextInterface',
            'getPayload' => 'public function getPayload()',
            'toJson' => 'public function toJson(): Hurah\Types\Type\Json',
            'getSequence' => 'public function getSequence(): int',
            'setSequence' => 'public function setSequence(int $sequence)',
            'setCount' => 'public function setCount(int $count)',
            'setDelivery' => 'public function setDelivery(string $delivery)',
        ],
    ],
    'Hurah\Event\Context' => [
        'kind' => 'class',
        'extends' => 'Hurah\Event\AbstractContext',
        'methods' => [
            '__construct' => 'public function __construct($data)',
            'fromPath' => 'public static function fromPath(Hurah\Types\Type\Path $path): Hurah\Event\ContextInterface',
            'getPayload' => 'public function getPayload()',
            'toJson' => 'public function toJson(): Hurah\Types\Type\Json',
            'getSequence' => 'public function getSequence(): int',
            'setSequence' => 'public function setSequence(int $sequence)',
            'setCount' => 'public function setCount(int $count)',
            'setDelivery' => 'public function setDelivery(string $delivery)',
        ],
    ],
    'Hurah\Event\HandlerInterface' => [
        'kind' => 'interface',
        'methods' => [
            'handle' => 'abstract public function handle(): void',
            'getType' => 'abstract public function getType(): Hurah\Event\EventType',
        ],
    ],
    'Hurah\Event\AbstractHandler' => [
        'kind' => 'abstract class',
        'implements' => ['Hurah\Event\HandlerInterface'],
        'methods' => [
            '__construct' => 'public function __construct(Hurah\Event\Helper\HandlerName $name, Hurah\Event\EventType $eventType, Hurah\Types\Type\Path $eventRoot)',
            'getLogger' => 'abstract public function getLogger(): Psr\Log\LoggerInterface',
            'handleTask' => 'abstract protected function handleTask(Hurah\Event\ContextInterface $oContext): int',
            'maxAttempts' => 'protected function maxAttempts(): int',
            'addFailureInfo' => 'protected function addFailureInfo(string ...$mLine)',
            'getQueue' => 'public function getQueue(): Hurah\Event\TaskCollection',
            'handle' => 'public function handle(): void',
            'getType' => 'public function getType(): Hurah\Event\EventType',
        ],
    ],
    'Hurah\Event\Dispatcher' => [
        'kind' => 'class',
        'methods' => [
            '__construct' => 'public function __construct(string $eventRoot)',
            'dispatch' => 'public function dispatch(Hurah\Event\EventType $eventType, Hurah\Event\AbstractContext $data)',
        ],
    ],
    'Hurah\Event\EventType' => [
        'kind' => 'class',
        'methods' => [
            '__construct' => 'public function __construct(string ...$eventTypeComponents)',
            'fromString' => 'public static function fromString(string $eventType): Hurah\Event\EventType',
            'asArray' => 'public function asArray(): array',
            'isVoid' => 'public function isVoid(): bool',
            'pop' => 'public function pop(): Hurah\Event\EventType',
        ],
    ],
    'Hurah\Event\Task' => [
        'kind' => 'class',
        'constants' => ['SUCCESS' => 0, 'FAILURE' => 1, 'RETRY' => 2, 'INVALID' => 3],
        'methods' => [
            '__construct' => 'public function __construct(Hurah\Types\Type\Path $path, Psr\Log\LoggerInterface $logger)',
            'retry' => 'public function retry(int $iMaxRetryCount)',
            'getPath' => 'public function getPath(): Hurah\Types\Type\Path',
            'getContext' => 'public function getContext(): Hurah\Event\ContextInterface',
            'finish' => 'public function finish(): void',
            'error' => 'public function error(string $sReason): void',
        ],
    ],
    'Hurah\Event\Helper\HandlerName' => [
        'kind' => 'class',
        'constants' => ['EVENT_NAME_CONSTRAINT' => '/[a-zA-Z0-9]+/'],
        'methods' => [
            '__construct' => 'public function __construct(string $sName)',
            '__toString' => 'public function __toString(): string',
        ],
    ],
    // Never used by application code in the original's README or tests; hurah does not
    // provide them (docs/MIGRATION.md).
    'Hurah\Event\TaskCollection' => ['kind' => 'class', 'absent' => true],
    'Hurah\Event\HandlerCollection' => ['kind' => 'class', 'absent' => true],
    'Hurah\Event\Helper\DeliveryService' => ['kind' => 'class', 'absent' => true],
    'Hurah\Event\Helper\FileStructureHelper' => ['kind' => 'class', 'absent' => true],
    'Hurah\Event\Helper\EventStatus' => ['kind' => 'class', 'absent' => true],
    'Hurah\Event\Commands\Runner' => ['kind' => 'class', 'absent' => true],
];

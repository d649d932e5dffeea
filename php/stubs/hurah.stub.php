<?php
/**
 * IDE stubs for the hurah PHP extension (build/hurah.so), the Rust rebuild of hurah/events.
 *
 * This file is never loaded at run time: the classes come from the extension. The declared
 * signatures are exactly what the extension reports through Reflection (tests/php/StubTest.php
 * keeps them in sync); precise types that PHP's signatures cannot carry (string|Stringable...)
 * are given in the docblocks. ContextInterface, AbstractContext, Context and the
 * InvalidArgumentException/NullPointerException pair are declared in PHP by the extension on
 * first use (php/compat/); `Path`/`Json` in their signatures are hurah/data-types' classes, or
 * the extension's stand-ins when data-types is not installed.
 */

namespace Hurah\Exception {

    /** Base class of every exception the extension throws. */
    class HurahException extends \RuntimeException
    {
    }

    /**
     * An invalid event type, handler name, option or argument. Nothing was written.
     * With hurah/data-types installed this name is an alias of its final
     * `Hurah\Types\Exception\InvalidArgumentException` (what hurah/events threw), which extends
     * `\Exception`, not HurahException.
     */
    class InvalidArgumentException extends HurahException
    {
    }

    /**
     * `EventType::pop()` of the root type. With hurah/data-types installed this name is an alias
     * of its final `Hurah\Types\Exception\NullPointerException` (what hurah/events threw).
     */
    class NullPointerException extends InvalidArgumentException
    {
    }

    /** The file system refused (missing permissions, not a directory, disk full...). The message names the path. */
    class IoException extends HurahException
    {
    }

    /** A payload that cannot be encoded as JSON (resource, closure, NAN/INF, invalid UTF-8, recursion). Nothing was written. */
    class EncodingException extends HurahException
    {
    }

    /** A task file that cannot be read as a task. */
    class CorruptTaskException extends HurahException
    {
    }

    /**
     * The database of a PostgreSQL root failed: the server cannot be reached, refused the
     * connection or the credentials, the connection was lost, or a statement failed. The message
     * names the operation and `host:port/db` (never the password). Extends IoException, which
     * earlier versions threw for these errors, so existing catch blocks still catch it.
     */
    class DatabaseException extends IoException
    {
    }

    /**
     * The task named does not exist (any more), e.g. `Context::fromPath()` of a missing file.
     * Extends IoException, which earlier versions threw for it.
     */
    class NotFoundException extends IoException
    {
    }
}

namespace Hurah\Event {

    /**
     * The data a handler receives, with hurah/events' exact signatures (untyped where the
     * original had no types), so classes written against the original implement it unchanged.
     * `Path` and `Json` are hurah/data-types' `Hurah\Types\Type\Path` and `Json`; without
     * data-types the extension declares stand-ins with those names (php/compat/Types/).
     * Declared in PHP by the extension on first use (php/compat/Event/), not by Composer.
     */
    interface ContextInterface
    {
        /** @param mixed $data */
        public function __construct($data);

        public static function fromPath(\Hurah\Types\Type\Path $path): ContextInterface;

        /** @return mixed The dispatched data. */
        public function getPayload();

        /** The task as JSON; `(string)$ctx->toJson()` is its text. */
        public function toJson(): \Hurah\Types\Type\Json;

        /** The per-listener sequence number. */
        public function getSequence(): int;

        public function setSequence(int $sequence);

        public function setCount(int $count);

        /** @param string $delivery ISO-8601 delivery time */
        public function setDelivery(string $delivery);
    }

    /** Implemented by {@see AbstractHandler}. */
    interface HandlerInterface
    {
        /** Processes every due task once, in ascending sequence order, then returns. */
        public function handle(): void;

        /** The event type this handler listens to. */
        public function getType(): EventType;
    }

    /**
     * Base of every context, with hurah/events' exact signatures and protected properties.
     * Subclasses define `fromPath()` (as with the original) and can be dispatched (their
     * `getPayload()` is what is sent). A handler always receives a {@see Context}. hurah's
     * additions declare no return type, so subclasses may declare the same names freely.
     */
    abstract class AbstractContext implements ContextInterface
    {
        protected array $data;
        protected int $sequence;
        protected int $count;
        protected string $delivery;

        /** @param mixed $data any JSON-encodable value (checked when dispatched) */
        public function __construct($data) {}

        /** @return mixed The dispatched data; once delivered, JSON objects come back as associative arrays. */
        public function getPayload() {}

        /** The task's JSON, encoded as hurah/events did; neither changes the context nor throws when undelivered. */
        public function toJson(): \Hurah\Types\Type\Json {}

        /** The per-listener sequence number (0 before delivery). */
        public function getSequence(): int {}

        public function setSequence(int $sequence) {}

        public function setCount(int $count) {}

        public function setDelivery(string $delivery) {}

        /** @return int The per-listener count (equals the sequence; 0 before delivery). */
        public function getCount() {}

        /** @return string|null The ISO-8601 delivery time, null before delivery. */
        public function getDelivery() {}

        /** @return string|null The dispatch id shared by all listeners' copies (the sequence for files written by the original library). */
        public function getId() {}

        /** @return int Which run of this task this is, from 1. */
        public function getAttempt() {}

        /** @return EventType|null The dispatched event type (the listener's own for files written by the original library). */
        public function getEventType() {}
    }

    /** The context handlers receive; `new Context($data)` to dispatch one. */
    class Context extends AbstractContext
    {
        /** @param mixed $data */
        public function __construct($data) {}

        /**
         * Reads a task file (inbox/7.json, error/3.json, ...): `Context::fromPath(new Path($file))`.
         * @return Context
         * @throws \Hurah\Exception\NotFoundException|\Hurah\Exception\IoException|\Hurah\Exception\CorruptTaskException
         */
        public static function fromPath(\Hurah\Types\Type\Path $path): ContextInterface {}
    }

    /**
     * An immutable event type such as `product/stored`: segments of `[A-Za-z0-9_.-]+`, not `.`
     * or `..`, not ending in `_listener`. No segments is the root type.
     */
    class EventType implements \Stringable
    {
        /** @throws \Hurah\Exception\InvalidArgumentException naming the bad value */
        public function __construct(string ...$eventTypeComponents) {}

        /** @throws \Hurah\Exception\InvalidArgumentException naming the bad value */
        public static function fromString(string $eventType): EventType {}

        /** @return string[] */
        public function asArray(): array {}

        /** True for the root type. */
        public function isVoid(): bool {}

        /**
         * The parent type. Unlike hurah/events, `$this` is NOT changed.
         * @throws \Hurah\Exception\NullPointerException on the root type (as hurah/events)
         */
        public function pop(): EventType {}

        /** `product/stored` */
        public function __toString(): string {}
    }

    /** Return codes of `handleTask()`. */
    class Task
    {
        /** Done: the task goes to archive/. */
        public const SUCCESS = 0;
        /** Failed: the task goes to error/ with the reason. */
        public const FAILURE = 1;
        /** Run again on a later run, at most maxAttempts() times, then error/. */
        public const RETRY = 2;
        /** Can never succeed: error/. */
        public const INVALID = 3;

        /** Not instantiable. */
        public function __construct() {}

        /**
         * `return Task::retryAfter(30);` from handleTask(): a RETRY that runs again after $delay
         * instead of the handler's retryDelay()/retryBackoff(). Returns Task::RETRY (so it fits an
         * `: int` handleTask()); the delay is kept in a per-process slot that is cleared before
         * every handleTask() call and only applies when handleTask() returns that RETRY.
         * maxAttempts() still bounds the retries.
         * @param int|float|\DateInterval $delay seconds (0: back to the inbox at once)
         * @return int Task::RETRY
         * @throws \Hurah\Exception\InvalidArgumentException for a negative, NAN or INF delay
         */
        public static function retryAfter(mixed $delay): int {}
    }

    /** Writes tasks into the queues of every listener of an event type. */
    class Dispatcher
    {
        /**
         * @param string|\Stringable $eventRoot created if missing
         * @param array{fsync?: 'always'|'never'}|null $options fsync defaults to $HURAH_FSYNC, else 'always'
         * @throws \Hurah\Exception\InvalidArgumentException|\Hurah\Exception\IoException
         */
        public function __construct(mixed $eventRoot, ?array $options = null) {}

        /**
         * Delivers $data to every listener at the event's level, each ancestor level and the root.
         * Delayed (named arguments): `dispatch('a', $data, delay: 1.5)`,
         * `delay: new \DateInterval('PT5M')` or `at: new \DateTimeImmutable('tomorrow 08:00')`.
         * The copies wait in delayed/ and are not handled before then; a time in the past (or a
         * zero delay) is due at once. Give at most one of $delay and $at.
         * A dispatch reaches the listeners registered at that moment (construct handlers first);
         * lastListenerCount() says how many. One that reaches none raises an E_USER_NOTICE
         * "hurah: no listener for event type 'a/b': nothing delivered".
         * @param EventType|string|\Stringable $eventType
         * @param ContextInterface|array|scalar|null|\JsonSerializable|object $data
         * @param int|float|\DateInterval|null $delay seconds from now (finite, >= 0)
         * @param \DateTimeInterface|null $at not before this time (ms precision)
         * @return string the dispatch id (see ContextInterface getId(); pass it to cancel())
         * @throws \Hurah\Exception\InvalidArgumentException|\Hurah\Exception\EncodingException|\Hurah\Exception\IoException
         * @throws \Hurah\Exception\HurahException when a listener's sequence counter is at
         *         PHP_INT_MAX (numbers are never wrapped or reused; nothing is published)
         */
        public function dispatch(mixed $eventType, mixed $data = null, mixed $delay = null, mixed $at = null): string {}

        /**
         * Dispatches several events in one call: a list of [$eventType, $data] pairs, each as
         * dispatch() takes them. Every pair is checked and encoded before anything is written.
         * On a PostgreSQL root the batch is one transaction (all or nothing); on a directory each
         * event is published in turn, each all or nothing. $delay/$at apply to every event.
         * Each event that reaches no listener raises an E_USER_NOTICE, after the whole batch is
         * written (an error handler that throws on notices makes the call throw, the batch
         * delivered all the same).
         * @param array<int, array{0: EventType|string|\Stringable, 1: mixed}> $events
         * @param int|float|\DateInterval|null $delay seconds from now (finite, >= 0)
         * @param \DateTimeInterface|null $at not before this time (ms precision)
         * @return list<string> the dispatch ids, in order
         * @throws \Hurah\Exception\InvalidArgumentException|\Hurah\Exception\EncodingException|\Hurah\Exception\IoException
         */
        public function dispatchMany(array $events, mixed $delay = null, mixed $at = null): array {}

        /**
         * How many listeners the last dispatch() or dispatchMany() of this dispatcher reached
         * (dispatchMany(): the sum over its events); 0 before any dispatch.
         */
        public function lastListenerCount(): int {}

        /**
         * Cancels the delayed copies of a dispatch in every listener under the root before they
         * come due. Copies already moved to the inbox (due, running or done) are not cancelled.
         * @param string $id what dispatch() returned
         * @return int how many delayed copies were removed
         */
        public function cancel(string $id): int {}

        /** @return 'always'|'never' */
        public function getFsync(): string {}
    }

    /**
     * Base class of handlers. Implement `handleTask()`; optionally `maxAttempts(): int`,
     * `getLogger()` returning a PSR-3 logger, and the retry delay, in this order of precedence:
     * - `return Task::retryAfter($seconds);` from handleTask() for one task;
     * - `retryDelay(int $attempt): float|int|\DateInterval|null` (seconds before retry number
     *   $attempt, from 1; 0: at once; null: fall through to retryBackoff());
     * - `retryBackoff(): array`, e.g. `['delay' => 1, 'multiplier' => 2, 'max' => 60,
     *   'jitter' => 0.1]`: delay × multiplier^(attempt-1), capped at max, spread by ± jitter
     *   (defaults: delay 1, multiplier 1, no max, jitter 0; [] or null: no backoff).
     * Without any of them a RETRY goes straight back to the inbox (as hurah/events).
     * These methods are not declared here, so subclasses may declare them with any signature.
     * Declares no properties.
     */
    abstract class AbstractHandler implements HandlerInterface
    {
        /**
         * Registers the listener directory `<eventRoot>/<type>/<name>_listener/`.
         * @param Helper\HandlerName|string|\Stringable $name
         * @param EventType|string|\Stringable $eventType
         * @param string|\Stringable $eventRoot
         * @throws \Hurah\Exception\InvalidArgumentException|\Hurah\Exception\IoException
         */
        public function __construct(mixed $name, mixed $eventType, mixed $eventRoot) {}

        /**
         * Runs one task. Subclasses may declare the parameter as ContextInterface or Context.
         * A throwable is a failure (error/, its message as the reason). exit() or a fatal error
         * (memory exhausted, E_ERROR) fails this attempt too (reason "handler called exit(N)" or
         * PHP's message; retried while maxAttempts() allows, else error/), the claim is
         * released, no further task is taken, and then the script ends as PHP would.
         * @return int Task::SUCCESS, FAILURE, RETRY or INVALID; anything else is a failure
         */
        abstract protected function handleTask(Context $context): int;

        /** Retries allowed before error/ (M retries = M+1 runs). */
        protected function maxAttempts(): int {}

        /** Lines added to the failure reason of the current task; cleared after each task. */
        protected function addFailureInfo(string ...$lines) {}

        /** Processes every due task once, in ascending sequence order, then returns. */
        public function handle(): void {}

        /**
         * The tasks waiting in delayed/ for their due time, earliest first (read, not claimed).
         * Cancel one with Dispatcher::cancel($entry['id']).
         * @return list<array{sequence: int, id: ?string, due: float, context: Context}> due: Unix time in seconds, ms precision
         */
        public function getDelayed(): array {}

        /**
         * Long-running worker for this handler; returns when a limit is hit or on SIGTERM/SIGINT
         * (after the running task). SIGHUP rescans, SIGUSR1/SIGUSR2 raise/lower the log level;
         * none of them interrupts the running handler. Logs (getLogger(), else stderr) its start,
         * each signal taken and why it stopped.
         * @param array{maxJobs?: int, maxTime?: int|float, memoryLimit?: int|string, stopWhenEmpty?: bool, once?: bool, sleep?: int|float, groupCommit?: bool}|null $options
         * @return array{handled: int, succeeded: int, failed: int, retried: int, recovered: int}
         */
        public function watch(?array $options = null): mixed {}

        public function getType(): EventType {}

        /**
         * The tasks waiting in the inbox, as contexts, in ascending order (read, not claimed).
         * The original returned a TaskCollection.
         * @return Context[]
         */
        public function getQueue(): array {}
    }

    /** Runs several handlers in one process. */
    class Worker
    {
        public function __construct() {}

        public function add(AbstractHandler $handler): Worker {}

        /**
         * @param array{maxJobs?: int, maxTime?: int|float, memoryLimit?: int|string, stopWhenEmpty?: bool, once?: bool, sleep?: int|float, groupCommit?: bool}|null $options
         * @return array{handled: int, succeeded: int, failed: int, retried: int, recovered: int}
         */
        public function run(?array $options = null): mixed {}
    }
}

namespace Hurah\Event\Helper {

    /**
     * A handler name. Accepts what hurah/events accepted (EVENT_NAME_CONSTRAINT, unanchored) if
     * it is one path component (not `../x`, `a/b`). Names outside STRICT_NAME_CONSTRAINT only
     * serve a `<name>_listener` directory that already exists: hurah never creates one.
     */
    class HandlerName implements \Stringable
    {
        public const EVENT_NAME_CONSTRAINT = '/[a-zA-Z0-9]+/';
        public const STRICT_NAME_CONSTRAINT = '/^[A-Za-z0-9][A-Za-z0-9_.-]*$/';

        /** @throws \Hurah\Exception\InvalidArgumentException naming the bad value */
        public function __construct(string $sName) {}

        public function __toString(): string {}
    }
}

namespace Hurah {

    \class_alias(\Hurah\Event\Dispatcher::class, \Hurah\Dispatcher::class);
    \class_alias(\Hurah\Event\AbstractHandler::class, \Hurah\AbstractHandler::class);
    \class_alias(\Hurah\Event\Context::class, \Hurah\Context::class);
    \class_alias(\Hurah\Event\Task::class, \Hurah\Task::class);
    /** hurah's name for the JSON value toJson() returns: data-types' Json, or the stand-in (php/compat/Types/Json.php). */
    \class_alias(\Hurah\Types\Type\Json::class, \Hurah\Event\Json::class);
}

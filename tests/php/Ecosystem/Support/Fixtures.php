<?php
/**
 * Classes for the worker-runner tests: loaded in the child process through --autoload
 * (or a fake project's vendor/autoload.php). Every handler records what it did in files
 * under $HURAH_TEST_OUT, so the test process can see it.
 */
declare(strict_types=1);

namespace Fixture;

use Hurah\Event\AbstractHandler;
use Hurah\Event\ContextInterface;
use Hurah\Event\EventType;
use Hurah\Event\HandlerInterface;
use Hurah\Event\Task;

function note(string $file, string $line): void
{
    file_put_contents(getenv('HURAH_TEST_OUT') . "/$file", $line . "\n", FILE_APPEND);
}

class OrderHandler extends AbstractHandler
{
    protected function handleTask(ContextInterface $context): int
    {
        note('handled.log', json_encode($context->getPayload()));
        return Task::SUCCESS;
    }

    public function getLogger(): \Psr\Log\LoggerInterface
    {
        return new \Psr\Log\NullLogger();
    }
}

/** The original's constructor signature (objects): still built with the right objects. */
class TypedHandler extends OrderHandler
{
    public function __construct(\Hurah\Event\Helper\HandlerName $name, EventType $type, string $root)
    {
        note('typed.log', get_class($name) . ' ' . get_class($type) . ' ' . $root);
        parent::__construct($name, $type, $root);
    }
}

/** Not a handler; its constructor leaves a mark, which must never appear. */
class NotAHandler
{
    public function __construct()
    {
        note('constructed.log', static::class);
    }
}

abstract class AbstractOrderHandler extends AbstractHandler
{
}

class ThrowingConstructor extends OrderHandler
{
    public function __construct($name, $type, $root)
    {
        throw new \RuntimeException('no database connection');
    }
}

/** Implements only the interface: fine for handle(), not for --watch. */
class InterfaceOnly implements HandlerInterface
{
    public function __construct(private $name, private $type, private $root)
    {
    }

    public function handle(): void
    {
        if (getenv('FIXTURE_THROW')) {
            throw new \LogicException('handle() blew up');
        }
        note('handled.log', 'interface-only ' . $this->name);
    }

    public function getType(): EventType
    {
        return EventType::fromString((string) $this->type);
    }
}

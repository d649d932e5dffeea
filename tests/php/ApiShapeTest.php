<?php
declare(strict_types=1);

namespace Hurah\Tests;

use Hurah\Event\AbstractContext;
use Hurah\Event\AbstractHandler;
use Hurah\Event\Context;
use Hurah\Event\ContextInterface;
use Hurah\Event\Dispatcher;
use Hurah\Event\EventType;
use Hurah\Event\HandlerInterface;
use Hurah\Event\Helper\HandlerName;
use Hurah\Event\Task;

final class ApiShapeTest extends HurahTestCase
{
    public function testTheExtensionIsNamedHurahAndReportsTheCoreVersion(): void
    {
        $this->assertTrue(extension_loaded('hurah'));
        $this->assertMatchesRegularExpression('/^\d+\.\d+\.\d+/', phpversion('hurah'));
    }

    public function testTheOriginalClassesExistInHurahEvent(): void
    {
        foreach ([Dispatcher::class, AbstractHandler::class, AbstractContext::class, Context::class,
                  EventType::class, Task::class, HandlerName::class, \Hurah\Event\Json::class, \Hurah\Event\Worker::class] as $c) {
            $this->assertTrue(class_exists($c), $c);
        }
        $this->assertTrue(interface_exists(HandlerInterface::class));
        $this->assertTrue(interface_exists(ContextInterface::class));
        $this->assertTrue((new \ReflectionClass(AbstractHandler::class))->isAbstract());
        $this->assertTrue((new \ReflectionClass(AbstractContext::class))->isAbstract());
        $this->assertTrue(is_subclass_of(AbstractHandler::class, HandlerInterface::class));
        $this->assertTrue(is_subclass_of(Context::class, AbstractContext::class));
        $this->assertTrue(is_subclass_of(Context::class, ContextInterface::class));
    }

    public function testTaskConstantsMatchTheOriginal(): void
    {
        $this->assertSame(0, Task::SUCCESS);
        $this->assertSame(1, Task::FAILURE);
        $this->assertSame(2, Task::RETRY);
        $this->assertSame(3, Task::INVALID);
    }

    public function testShortAliasesNameTheSameClasses(): void
    {
        $this->assertSame(Dispatcher::class, get_class(new \Hurah\Dispatcher($this->root)));
        $this->assertSame((new \ReflectionClass(\Hurah\AbstractHandler::class))->getName(), AbstractHandler::class);
        $this->assertSame((new \ReflectionClass(\Hurah\Context::class))->getName(), Context::class);
        $this->assertSame(\Hurah\Task::RETRY, Task::RETRY);
        $this->assertInstanceOf(\Hurah\Context::class, new Context(1));
    }

    public function testAbstractHandlerDeclaresNoPropertiesSoSubclassesMayDeclareAny(): void
    {
        $this->assertSame([], (new \ReflectionClass(AbstractHandler::class))->getProperties());
        $h = new ScriptedHandler('props', 'a', $this->root); // declares $logger, $name, ...
        $this->assertInstanceOf(AbstractHandler::class, $h);
    }

    public function testHandleTaskMayBeDeclaredWithContextOrContextInterface(): void
    {
        $a = new class ('a', 'x', $this->root) extends AbstractHandler {
            protected function handleTask(Context $c): int { return Task::SUCCESS; }
        };
        $b = new class ('b', 'x', $this->root) extends AbstractHandler {
            public function handleTask(ContextInterface $c): int { return Task::SUCCESS; }
        };
        $this->assertSame('x', (string) $a->getType());
        $this->assertSame('x', (string) $b->getType());
    }

    public function testConstructorArgumentsAcceptObjectsStringsAndStringables(): void
    {
        $root = new class ($this->root) implements \Stringable {
            public function __construct(private string $p) {}
            public function __toString(): string { return $this->p; }
        };
        $h1 = new PlainHandler(new HandlerName('one'), new EventType('product', 'stored'), $root);
        $h2 = new PlainHandler('two', 'product/stored', $this->root);
        $this->assertDirectoryExists("$this->root/product/stored/one_listener/inbox");
        $this->assertDirectoryExists("$this->root/product/stored/two_listener/inbox");
        $this->assertInstanceOf(EventType::class, $h1->getType());
        $this->assertSame(['product', 'stored'], $h2->getType()->asArray());
    }

    public function testTheCorrectedReadmeExampleRuns(): void
    {
        // The original README: `dispatch('product/created', $array)` and a handler narrowing
        // handleTask() to Context without getLogger() — both fatal with hurah/events, fine here.
        [$status, $out, $err] = $this->runPhp(<<<PHP
        <?php
        use Hurah\\Dispatcher;
        use Hurah\\AbstractHandler;
        use Hurah\\Context;
        use Hurah\\Task;

        class MyHandler extends AbstractHandler
        {
            protected function handleTask(Context \$myTaskData): int
            {
                echo 'handled product ', \$myTaskData->getPayload()['product_id'], "\\n";
                return Task::SUCCESS;
            }
        }

        \$root = '{$this->root}';
        \$handler = new MyHandler('my_handler', 'product', \$root);
        \$exampleContextData = ['product_id' => 123];
        \$dispatcher = new Dispatcher(\$root);
        \$dispatcher->dispatch('product/created', \$exampleContextData);
        \$handler->handle();
        PHP);
        $this->assertSame(0, $status, $err);
        $this->assertSame("handled product 123\n", $out);
        $this->assertSame(['1.json'], $this->stateFiles('product/my_handler_listener', 'archive'));
    }
}

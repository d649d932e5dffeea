<?php
declare(strict_types=1);

namespace Hurah\Tests\Compat;

use App\ImageScaler;
use App\OrderContext;
use App\PlainContext;
use Hurah\Event\Context;
use Hurah\Event\ContextInterface;
use Hurah\Event\Dispatcher;
use Hurah\Event\EventType;
use Hurah\Event\Helper\HandlerName;
use Hurah\Event\Task;
use Hurah\Tests\HurahTestCase;
use Hurah\Types\Type\Json;
use Hurah\Types\Type\Path;

/** Code written for hurah/events (tests/php/Compat/user/) runs unchanged, data-types installed. */
final class UserCodeTest extends HurahTestCase
{
    protected function setUp(): void
    {
        parent::setUp();
        ImageScaler::$seen = [];
        ImageScaler::$status = Task::SUCCESS;
    }

    public function testContextSubclassesAndImplementationsInTheOriginalsStyleLoadAndAreDispatched(): void
    {
        // The original's test setup: handlers register listeners, then dispatch(EventType, AbstractContext).
        $scaler = new ImageScaler(new HandlerName('image_scaler'), new EventType('product', 'stored'), new Path($this->root));
        $dispatcher = new Dispatcher($this->root);
        $dispatcher->dispatch(new EventType('product', 'stored'), new OrderContext(['order' => 7]));
        $dispatcher->dispatch(new EventType('product', 'stored'), new PlainContext(['plain' => true]));
        $scaler->handle();

        $this->assertSame([['order' => 7, 'via' => 'OrderContext'], ['plain' => true]], array_column(ImageScaler::$seen, 'payload'));
        // The worker hands out a Context, as the original did.
        $this->assertSame([Context::class, Context::class], array_column(ImageScaler::$seen, 'class'));
        $this->assertSame([1, 2], array_column(ImageScaler::$seen, 'sequence'));
        $this->assertSame(['1.json', '2.json'], array_values(array_diff(scandir("$this->root/product/stored/image_scaler_listener/archive"), ['.', '..'])));
        // toJson() gave the handler a Hurah\Types\Type\Json (typed parameter), data-types' own.
        $json = json_decode(ImageScaler::$seen[0]['json'], true);
        $this->assertSame(['payload', 'sequence', 'count', 'delivery'], array_slice(array_keys($json), 0, 4));
        $this->assertSame(7, $json['payload']['order']);
    }

    public function testTheOriginalsProtectedStateAndStaticFromPathWork(): void
    {
        $c = new OrderContext(['order' => 3]);
        $this->assertSame('order 3', $c->describe());
        $c->setSequence(5);
        $this->assertSame(5, $c->getSequence());

        mkdir($this->root, 0755, true);
        file_put_contents("$this->root/9.json", '{"payload":{"order":9},"sequence":9,"count":9,"delivery":"2023-10-02T13:18:35+00:00","retry_count":1}');
        $read = OrderContext::fromPath(new Path("$this->root/9.json"));
        $this->assertInstanceOf(ContextInterface::class, $read);
        $this->assertSame(['order' => 9], $read->getPayload());
        $this->assertSame(9, $read->getSequence());
        $plain = PlainContext::fromPath(new Path("$this->root/9.json"));
        $this->assertSame(['order' => 9], $plain->getPayload());
    }

    public function testToJsonIsDataTypesJsonWhenDataTypesIsInstalled(): void
    {
        $c = new Context(['url' => 'http://x/é']);
        $c->setSequence(1);
        $c->setCount(1);
        $c->setDelivery('2023-10-02T13:18:35+00:00');
        $typed = static fn (ContextInterface $ctx): Json => $ctx->toJson();
        $json = $typed($c);
        $this->assertSame(Json::class, get_class($json));
        $this->assertNotInstanceOf(\Hurah\Internal\StandIn::class, $json); // the installed class, not hurah's stand-in
        $this->assertInstanceOf(\Hurah\Event\Json::class, $json);        // hurah's name for it
        // As the original: JsonUtils::encode($data), flags 0.
        $this->assertSame('{"payload":{"url":"http:\/\/x\/\u00e9"},"sequence":1,"count":1,"delivery":"2023-10-02T13:18:35+00:00"}', (string) $json);
        $this->assertSame(['url' => 'http://x/é'], $json->toArray()['payload']);
    }

    public function testExistingCatchBlocksCatchWhatHurahThrows(): void
    {
        // An invalid handler name: the original threw data-types' InvalidArgumentException.
        try {
            new HandlerName('___');
            $this->fail('no exception');
        } catch (\Hurah\Types\Exception\InvalidArgumentException $e) {
            $this->assertStringContainsString('___', $e->getMessage());
        }
        // pop() of an empty type: data-types' NullPointerException.
        try {
            (new EventType('a'))->pop()->pop();
            $this->fail('no exception');
        } catch (\Hurah\Types\Exception\NullPointerException $e) {
            $this->assertStringContainsString('root', $e->getMessage());
        }
        // The original's AbstractHandler::handle() caught \Exception: these are Exceptions.
        try {
            new ImageScaler(new HandlerName('ok'), EventType::fromString('a/../b'), new Path($this->root));
            $this->fail('no exception');
        } catch (\Exception $e) {
            $this->assertInstanceOf(\Hurah\Types\Exception\InvalidArgumentException::class, $e);
        }
        // hurah's own names catch the same objects.
        try {
            new HandlerName('');
            $this->fail('no exception');
        } catch (\Hurah\Exception\InvalidArgumentException $e) {
            $this->assertSame(\Hurah\Types\Exception\InvalidArgumentException::class, get_class($e));
        }
        $this->assertSame(\Hurah\Types\Exception\NullPointerException::class, (new \ReflectionClass(\Hurah\Exception\NullPointerException::class))->getName());
    }

    public function testTaskConstantsAndGetQueueAsDocumented(): void
    {
        $this->assertSame([0, 1, 2, 3], [Task::SUCCESS, Task::FAILURE, Task::RETRY, Task::INVALID]);
        $scaler = new ImageScaler(new HandlerName('q'), new EventType('e'), new Path($this->root));
        (new Dispatcher($this->root))->dispatch(new EventType('e'), new Context(1));
        // docs/MIGRATION.md: getQueue() is an array (count() instead of ->length()).
        $this->assertCount(1, $scaler->getQueue());
        $this->assertInstanceOf(ContextInterface::class, $scaler->getQueue()[0]);
    }
}

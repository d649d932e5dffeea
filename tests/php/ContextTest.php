<?php
declare(strict_types=1);

namespace Hurah\Tests;

use Hurah\Event\AbstractContext;
use Hurah\Event\Context;
use Hurah\Event\ContextInterface;
use Hurah\Event\Dispatcher;
use Hurah\Event\Json;
use Hurah\Exception\CorruptTaskException;
use Hurah\Exception\IoException;
use Hurah\Types\Type\Path;

final class ContextTest extends HurahTestCase
{
    public function testAnUndeliveredContextHoldsItsPayloadAndToJsonDoesNotThrow(): void
    {
        $c = new Context(['a' => 1]);
        $this->assertSame(['a' => 1], $c->getPayload());
        $this->assertInstanceOf(Json::class, $c->toJson());
        $this->assertSame('{"payload":{"a":1}}', (string) $c->toJson());
        $this->assertNull($c->getId());
        $this->assertNull($c->getDelivery());
        $this->assertSame(1, $c->getAttempt());
        $c->setSequence(4);
        $c->setCount(4);
        $c->setDelivery('2023-10-02T13:18:35+00:00');
        $this->assertSame(4, $c->getSequence());
        $this->assertSame(4, $c->getCount());
        $this->assertSame('{"payload":{"a":1},"sequence":4,"count":4,"delivery":"2023-10-02T13:18:35+00:00"}', (string) $c->toJson());
    }

    public function testFromPathReadsATaskFileWrittenByTheOriginalLibrary(): void
    {
        mkdir($this->root, 0755, true);
        file_put_contents("$this->root/7.json", '{"payload":{"a":1},"sequence":7,"count":7,"delivery":"2023-10-02T13:18:35+00:00","retry_count":1}');
        $c = Context::fromPath(new Path("$this->root/7.json"));
        $this->assertInstanceOf(Context::class, $c);
        $this->assertSame(['a' => 1], $c->getPayload());
        $this->assertSame(7, $c->getSequence());
        $this->assertSame(7, $c->getCount());
        $this->assertSame('2023-10-02T13:18:35+00:00', $c->getDelivery());
        $this->assertSame('7', $c->getId());
        $this->assertSame(2, $c->getAttempt());
        $this->assertStringContainsString('"retry_count":1', (string) $c->toJson());
    }

    public function testFromPathFailuresAreTyped(): void
    {
        mkdir($this->root, 0755, true);
        file_put_contents("$this->root/1.json", '{"payload":');
        try {
            Context::fromPath(new Path("$this->root/1.json"));
            $this->fail('no exception');
        } catch (CorruptTaskException $e) {
            $this->assertStringContainsString('1.json', $e->getMessage());
        }
        $this->expectException(IoException::class);
        Context::fromPath(new Path("$this->root/missing.json"));
    }

    public function testJsonIsAStringableValue(): void
    {
        $j = new Json('{"x":[1,2]}');
        $this->assertSame('{"x":[1,2]}', (string) $j);
        $this->assertSame(['x' => [1, 2]], $j->toArray());
        $this->expectException(\Hurah\Exception\InvalidArgumentException::class);
        new Json('{nope');
    }

    public function testUserContextClassesAreDispatchable(): void
    {
        // hurah/events' signatures: subclasses define fromPath(), getPayload() has no return type.
        $mine = new class (['k' => 'v']) extends AbstractContext {
            public static function fromPath(Path $path): ContextInterface { return Context::fromPath($path); }
            public function getPayload() { return ['wrapped' => parent::getPayload()]; }
        };
        $own = new class (null) implements ContextInterface {
            public function __construct($data) {}
            public static function fromPath(Path $path): ContextInterface { return Context::fromPath($path); }
            public function getPayload() { return 'own'; }
            public function toJson(): \Hurah\Types\Type\Json { return new Json('{}'); }
            public function getSequence(): int { return 0; }
            public function setSequence(int $sequence) {}
            public function setCount(int $count) {}
            public function setDelivery(string $delivery) {}
        };
        $h = new ScriptedHandler('ctx', 'e', $this->root);
        $d = new Dispatcher($this->root);
        $d->dispatch('e', $mine);
        $d->dispatch('e', $own);
        $h->handle();
        $this->assertSame([['wrapped' => ['k' => 'v']], 'own'], array_column($h->seen, 'payload'));
    }
}

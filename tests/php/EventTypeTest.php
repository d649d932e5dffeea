<?php
declare(strict_types=1);

namespace Hurah\Tests;

use Hurah\Event\EventType;
use Hurah\Event\Helper\HandlerName;
use Hurah\Exception\InvalidArgumentException;

final class EventTypeTest extends HurahTestCase
{
    public function testPartsAndStringFormAgree(): void
    {
        $t = new EventType('product', 'stored');
        $this->assertSame(['product', 'stored'], $t->asArray());
        $this->assertSame('product/stored', (string) $t);
        $this->assertSame(['product', 'stored'], EventType::fromString('product/stored')->asArray());
        $this->assertInstanceOf(\Stringable::class, $t);
    }

    public function testNoPartsIsTheVoidRootType(): void
    {
        $this->assertTrue((new EventType())->isVoid());
        $this->assertTrue(EventType::fromString('')->isVoid());
        $this->assertFalse((new EventType('a'))->isVoid());
    }

    public function testPopReturnsTheParentWithoutChangingTheObject(): void
    {
        $t = new EventType('a', 'b', 'c');
        $p = $t->pop();
        $this->assertSame('a/b', (string) $p);
        $this->assertSame('a/b/c', (string) $t);
        $this->assertSame('a', (string) $p->pop());
        $this->assertTrue($p->pop()->pop()->isVoid());
    }

    public function testPopOnTheRootThrows(): void
    {
        try {
            (new EventType())->pop();
            $this->fail('no exception');
        } catch (\Hurah\Exception\NullPointerException $e) {
            // hurah/events threw data-types' NullPointerException; without data-types it is
            // hurah's own, still an InvalidArgumentException as before.
            $this->assertInstanceOf(InvalidArgumentException::class, $e);
            $this->assertStringContainsString('root', $e->getMessage());
        }
    }

    public static function badTypes(): array
    {
        return [
            'dot-dot' => ['a/../b'], 'dot' => ['a/./b'], 'only dot-dot' => ['..'], 'empty segment' => ['a//b'],
            'leading slash' => ['/a'], 'trailing slash' => ['a/'], 'NUL' => ["a\0b"], 'listener suffix' => ['a/x_listener'],
            'space' => ['a b'], 'backslash' => ['a\\b'], 'non-ascii' => ['prodüct'],
        ];
    }

    /** @dataProvider badTypes */
    public function testInvalidEventTypesThrowNamingTheValue(string $bad): void
    {
        try {
            EventType::fromString($bad);
            $this->fail("accepted $bad");
        } catch (InvalidArgumentException $e) {
            $this->assertStringContainsString(json_encode($bad) === false ? 'invalid' : 'invalid event type', $e->getMessage());
        }
        $parts = explode('/', $bad);
        $this->expectException(InvalidArgumentException::class);
        new EventType(...$parts);
    }

    public function testHandlerNamesAreAnchored(): void
    {
        foreach (['image_scaler', 'ok-name', 'v1.2', '9lives'] as $ok) {
            $this->assertSame($ok, (string) new HandlerName($ok));
        }
        foreach (['', '___', '../evil', 'a/b', "a\0"] as $bad) {
            try {
                new HandlerName($bad);
                $this->fail('accepted ' . json_encode($bad));
            } catch (InvalidArgumentException $e) {
                $this->assertStringContainsString('invalid handler name', $e->getMessage());
            }
        }
        $this->assertSame('/^[A-Za-z0-9][A-Za-z0-9_.-]*$/', HandlerName::STRICT_NAME_CONSTRAINT);
        $this->assertSame(1, preg_match(HandlerName::STRICT_NAME_CONSTRAINT, 'image_scaler'));
    }

    public function testNamesOnlyTheOriginalAcceptedNameExistingListenerDirectoriesOnly(): void
    {
        // hurah/events' rule (unanchored, kept as EVENT_NAME_CONSTRAINT): a letter or digit.
        $this->assertSame('/[a-zA-Z0-9]+/', HandlerName::EVENT_NAME_CONSTRAINT);
        foreach (['a b', '_x', "\u{dc}n\u{ef}"] as $name) {
            $this->assertSame($name, (string) new HandlerName($name));
            try {
                new PlainHandler($name, 'e', $this->root);
                $this->fail('created a listener for ' . json_encode($name));
            } catch (InvalidArgumentException $e) {
                $this->assertStringContainsString('already exists', $e->getMessage());
            }
            mkdir("$this->root/e/{$name}_listener", 0755, true);
            $h = new PlainHandler($name, 'e', $this->root);
            $h->handle();
            $this->assertDirectoryExists("$this->root/e/{$name}_listener/inbox");
        }
    }
}

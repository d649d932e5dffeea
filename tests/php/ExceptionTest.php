<?php
declare(strict_types=1);

namespace Hurah\Tests;

use Hurah\Exception\CorruptTaskException;
use Hurah\Exception\DatabaseException;
use Hurah\Exception\EncodingException;
use Hurah\Exception\HurahException;
use Hurah\Exception\InvalidArgumentException;
use Hurah\Exception\IoException;
use Hurah\Exception\NotFoundException;

class MyHurahException extends HurahException
{
}

final class ExceptionTest extends HurahTestCase
{
    public function testHierarchy(): void
    {
        $this->assertTrue(is_subclass_of(HurahException::class, \RuntimeException::class));
        foreach ([InvalidArgumentException::class, IoException::class, EncodingException::class, CorruptTaskException::class] as $c) {
            $this->assertTrue(is_subclass_of($c, HurahException::class), $c);
        }
        // Database and not-found errors were IoExceptions before they had their own classes:
        // they still are, so existing catch blocks keep catching them.
        foreach ([DatabaseException::class, NotFoundException::class] as $c) {
            $this->assertTrue(is_subclass_of($c, IoException::class), $c);
            $this->assertFalse((new \ReflectionClass($c))->isFinal(), $c);
        }
    }

    public function testTheNewKindsAreRegisteredByTheExtensionNotAutoloaded(): void
    {
        foreach ([DatabaseException::class, NotFoundException::class] as $c) {
            $this->assertTrue(class_exists($c, false), $c);
            $this->assertSame('hurah', (new \ReflectionClass($c))->getExtensionName(), $c);
        }
    }

    public function testAMissingTaskFileIsANotFoundException(): void
    {
        $missing = sys_get_temp_dir() . '/hurah-no-such-task-' . bin2hex(random_bytes(6)) . '.json';
        try {
            \Hurah\Event\Context::fromPath(new \Hurah\Types\Type\Path($missing));
            $this->fail('no exception');
        } catch (NotFoundException $e) {
            $this->assertStringContainsString($missing, $e->getMessage());
        }
    }

    public function testExceptionsCanBeConstructedThrownAndCaught(): void
    {
        try {
            throw new IoException('disk', 5);
        } catch (HurahException $e) {
            $this->assertSame('disk', $e->getMessage());
            $this->assertSame(5, $e->getCode());
        }
    }

    public function testExceptionsCanBeSubclassed(): void
    {
        $e = new MyHurahException('mine');
        $this->assertInstanceOf(\RuntimeException::class, $e);
        $this->expectException(HurahException::class);
        throw $e;
    }

    public function testCoreErrorsArriveAsTypedExceptions(): void
    {
        try {
            \Hurah\Event\EventType::fromString('../x');
            $this->fail('no exception');
        } catch (InvalidArgumentException $e) {
            $this->assertStringContainsString('"../x"', $e->getMessage());
        }
    }
}

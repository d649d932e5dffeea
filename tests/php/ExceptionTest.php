<?php
declare(strict_types=1);

namespace Hurah\Tests;

use Hurah\Exception\CorruptTaskException;
use Hurah\Exception\EncodingException;
use Hurah\Exception\HurahException;
use Hurah\Exception\InvalidArgumentException;
use Hurah\Exception\IoException;

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

<?php
declare(strict_types=1);

namespace Hurah\Psr14\Exception;

/**
 * An event cannot be queued (not JsonSerializable, holds a resource or closure, has no way to
 * be rebuilt from an array, ...) or a queued event's data cannot be turned back into it.
 * Thrown at registration or at dispatch, before anything is written.
 */
if (!(new \ReflectionClass(\Hurah\Exception\InvalidArgumentException::class))->isFinal()) {
    class UnserializableEventException extends \Hurah\Exception\InvalidArgumentException
    {
    }
} else {
    // With hurah/data-types installed, Hurah\Exception\InvalidArgumentException is its final
    // class (see the hurah extension's php/compat/Exception/InvalidArgument.php).
    class UnserializableEventException extends \Hurah\Exception\EncodingException
    {
    }
}

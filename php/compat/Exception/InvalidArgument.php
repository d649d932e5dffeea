<?php
/*
 * Hurah\Exception\InvalidArgumentException and NullPointerException, declared by the hurah
 * extension on first use (it embeds this file).
 *
 * hurah/events threw hurah/data-types' Hurah\Types\Exception\InvalidArgumentException (invalid
 * handler name) and NullPointerException (pop() of an empty EventType). Those classes are
 * final, so nothing can extend them: when data-types is installed, hurah's two classes are
 * aliases of them, and catch blocks naming either the original's class or hurah's catch what the
 * extension throws. Without data-types they are hurah's own classes under HurahException.
 */

namespace Hurah\Exception;

if (!\class_exists(InvalidArgumentException::class, false)) {
    if (\class_exists(\Hurah\Types\Exception\InvalidArgumentException::class)) {
        \class_alias(\Hurah\Types\Exception\InvalidArgumentException::class, InvalidArgumentException::class);
    } else {
        /** An invalid event type, handler name, option or argument. Nothing was written. */
        class InvalidArgumentException extends HurahException
        {
        }
    }
}

if (!\class_exists(NullPointerException::class, false)) {
    if (\class_exists(\Hurah\Types\Exception\NullPointerException::class)) {
        \class_alias(\Hurah\Types\Exception\NullPointerException::class, NullPointerException::class);
    } else {
        /** pop() of the root event type (it has no parent). */
        class NullPointerException extends InvalidArgumentException
        {
        }
    }
}

<?php
declare(strict_types=1);

namespace Hurah\Psr14\Exception;

/**
 * An event cannot be queued (not JsonSerializable, holds a resource or closure, has no way to
 * be rebuilt from an array, ...) or a queued event's data cannot be turned back into it.
 * Thrown at registration or at dispatch, before anything is written.
 */
class UnserializableEventException extends \Hurah\Exception\InvalidArgumentException
{
}

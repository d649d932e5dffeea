<?php
declare(strict_types=1);

namespace Hurah\Psr14\Exception;

/** A listener registration that cannot work (a closure marked to queue, a duplicate handler, ...). */
class ConfigurationException extends \LogicException
{
}

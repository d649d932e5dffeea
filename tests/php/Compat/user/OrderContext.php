<?php

namespace App;

use Hurah\Event\AbstractContext;
use Hurah\Event\Context;
use Hurah\Event\ContextInterface;
use Hurah\Types\Type\Path;

/** An AbstractContext subclass as the original requires it: fromPath() defined, untyped overrides. */
class OrderContext extends AbstractContext
{
    public static function fromPath(Path $path): ContextInterface
    {
        return Context::fromPath($path);
    }

    public function getPayload()
    {
        $payload = parent::getPayload();
        $payload['via'] = 'OrderContext';
        return $payload;
    }

    public function setSequence(int $sequence)
    {
        parent::setSequence($sequence);
    }

    public function describe(): string
    {
        // The original's protected property.
        return 'order ' . $this->data['payload']['order'];
    }
}

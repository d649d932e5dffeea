<?php

namespace Hurah\Types\Type;

/** Stand-in for hurah/data-types' Path: a string value object (only what the tests touch). */
class Path
{
    private $sValue;

    public function __construct($sValue = null)
    {
        $this->sValue = $sValue;
    }

    public static function make(...$parts): Path
    {
        $parts = array_filter(array_map('strval', $parts), static fn ($p) => !empty($p));
        return new Path(implode('/', $parts));
    }

    public function __toString(): string
    {
        return (string) $this->getValue();
    }

    public function getValue()
    {
        return $this->sValue;
    }
}

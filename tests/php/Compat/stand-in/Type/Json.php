<?php

namespace Hurah\Types\Type;

/** Stand-in for hurah/data-types' Json: a string value object (only what the tests touch). */
class Json
{
    private $sValue;

    public function __construct($mValue = null)
    {
        if (is_array($mValue) || is_object($mValue)) {
            $mValue = json_encode($mValue, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES);
        }
        $this->sValue = $mValue;
    }

    public function __toString(): string
    {
        return (string) $this->getValue();
    }

    public function getValue()
    {
        return $this->sValue;
    }

    public function toArray(): array
    {
        return json_decode($this->getValue(), true);
    }
}

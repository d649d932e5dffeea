<?php
/*
 * Stand-in for hurah/data-types' Hurah\Types\Type\Json, declared by the hurah extension only when
 * no other autoloader defines that class (data-types not installed), so that
 * ContextInterface::toJson(): Json, which names it, works without data-types. It has the part of
 * data-types' API that hurah/events code uses: the JSON text as a stringable value.
 * Hurah\Event\Json is an alias of whichever Hurah\Types\Type\Json is in use.
 */

namespace Hurah\Types\Type;

foreach (\spl_autoload_functions() as $loader) {
    if (\is_string($loader) && \strcasecmp(\ltrim($loader, '\\'), 'Hurah\Internal\autoload') === 0) {
        continue;
    }
    $loader(Json::class);
    if (\class_exists(Json::class, false)) {
        return; // hurah/data-types (or another package) provides it
    }
}

if (!\class_exists(Json::class, false)) {
    class Json implements \Stringable, \Hurah\Internal\StandIn
    {
        private string $value;

        /** @throws \Hurah\Exception\InvalidArgumentException when $json is not valid JSON */
        public function __construct($json = null)
        {
            if (\is_array($json) || \is_object($json) && !$json instanceof \Stringable) {
                $json = \json_encode($json, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES);
            }
            $json = (string) $json;
            \json_decode($json);
            if (\json_last_error() !== JSON_ERROR_NONE) {
                throw new \Hurah\Exception\InvalidArgumentException('not valid JSON: ' . \json_last_error_msg());
            }
            $this->value = $json;
        }

        public function __toString(): string
        {
            return $this->value;
        }

        /** The JSON text. */
        public function getValue()
        {
            return $this->value;
        }

        /**
         * The decoded value, objects as associative arrays.
         * @return array|string|int|float|bool|null
         */
        public function toArray()
        {
            return \json_decode($this->value, true);
        }
    }
}

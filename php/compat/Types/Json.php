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
            // 512 nested arrays/objects (json_encode's default depth); json_decode counts the
            // innermost value as one more level.
            \json_decode($json, false, 513);
            if (\json_last_error() === JSON_ERROR_DEPTH) {
                throw new \Hurah\Exception\InvalidArgumentException(
                    'JSON nested ' . self::depth($json) . ' arrays/objects deep; at most 512 are accepted'
                );
            }
            if (\json_last_error() !== JSON_ERROR_NONE) {
                throw new \Hurah\Exception\InvalidArgumentException('not valid JSON: ' . \json_last_error_msg());
            }
            $this->value = $json;
        }

        /** The deepest nesting of arrays/objects in $json (strings skipped). */
        private static function depth(string $json): int
        {
            $depth = $max = 0;
            $inString = false;
            for ($i = 0, $n = \strlen($json); $i < $n; $i++) {
                $c = $json[$i];
                if ($inString) {
                    if ($c === '\\') {
                        $i++;
                    } elseif ($c === '"') {
                        $inString = false;
                    }
                } elseif ($c === '"') {
                    $inString = true;
                } elseif ($c === '[' || $c === '{') {
                    $max = \max($max, ++$depth);
                } elseif ($c === ']' || $c === '}') {
                    $depth--;
                }
            }
            return $max;
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

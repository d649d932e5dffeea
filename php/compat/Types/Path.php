<?php
/*
 * Stand-in for hurah/data-types' Hurah\Types\Type\Path, declared by the hurah extension only when
 * no other autoloader defines that class (data-types not installed), so that
 * Context::fromPath(Path $path), which names it, can be called without data-types. Only a
 * stringable path value; use data-types for its file system helpers.
 */

namespace Hurah\Types\Type;

foreach (\spl_autoload_functions() as $loader) {
    if (\is_string($loader) && \strcasecmp(\ltrim($loader, '\\'), 'Hurah\Internal\autoload') === 0) {
        continue;
    }
    $loader(Path::class);
    if (\class_exists(Path::class, false)) {
        return; // hurah/data-types (or another package) provides it
    }
}

if (!\class_exists(Path::class, false)) {
    class Path implements \Stringable, \Hurah\Internal\StandIn
    {
        private string $value;

        public function __construct($path = null)
        {
            $this->value = (string) $path;
        }

        public function __toString(): string
        {
            return $this->value;
        }

        /** The path. */
        public function getValue()
        {
            return $this->value;
        }
    }
}

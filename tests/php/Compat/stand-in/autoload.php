<?php
// Registers the stand-in for hurah/data-types like Composer's autoloader: PSR-4, prepended.
spl_autoload_register(static function (string $class): void {
    $prefix = 'Hurah\\Types\\';
    if (strncmp($class, $prefix, strlen($prefix)) !== 0) {
        return;
    }
    $file = __DIR__ . '/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
    if (is_file($file)) {
        require $file;
    }
}, true, true);

<?php
// The "project" autoloader: hurah/data-types (stand-in), hurah's userland package, App\ classes.
require_once __DIR__ . '/../stand-in/autoload.php';
require_once __DIR__ . '/../../../../php/lib/autoload.php';
spl_autoload_register(static function (string $class): void {
    if (strncmp($class, 'App\\', 4) === 0 && is_file($f = __DIR__ . '/' . substr($class, 4) . '.php')) {
        require $f;
    }
});

<?php
/**
 * Autoloader for the userland part of hurah/events-native when it is used WITHOUT Composer
 * (this repository's examples and tests, or a hand-made deployment). With Composer, do not
 * include this file: vendor/autoload.php maps the same namespaces (see composer.json).
 *
 * - Hurah\Psr14\*   -> php/lib/Psr14/
 * - Hurah\Console\* -> php/lib/Console/
 * - Psr\*           -> the include path (Debian's php-psr-* packages install /usr/share/php/Psr/),
 *                      registered last so a Composer-installed psr/* always wins.
 *
 * The extension's classes (Hurah\Event\*, Hurah\Exception\*) come from hurah.so (those written in
 * PHP, php/compat/, through the extension's own autoloader); php/stubs/hurah.stub.php is for
 * IDEs only.
 */
declare(strict_types=1);

(static function (): void {
    if (defined('HURAH_NATIVE_LIB_AUTOLOAD')) {
        return; // already registered
    }
    define('HURAH_NATIVE_LIB_AUTOLOAD', __FILE__);
    $base = __DIR__;
    spl_autoload_register(static function (string $class) use ($base): void {
        foreach (['Hurah\\Psr14\\' => '/Psr14/', 'Hurah\\Console\\' => '/Console/'] as $prefix => $dir) {
            if (strncmp($class, $prefix, strlen($prefix)) === 0) {
                $file = $base . $dir . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
                if (is_file($file)) {
                    require $file;
                }
                return;
            }
        }
    });
    spl_autoload_register(static function (string $class): void {
        if (strncmp($class, 'Psr\\', 4) !== 0) {
            return;
        }
        $file = stream_resolve_include_path(str_replace('\\', '/', $class) . '.php');
        if ($file !== false) {
            require $file;
        }
    });
})();

<?php
/**
 * Shared set-up of the examples: the bridge classes (php/lib, normally from Composer's
 * vendor/autoload.php), the tiny PSR-14 dispatcher and PSR-11 container in lib/, and helpers.
 * Run an example with the extension loaded:
 *
 *     php -d extension=build/hurah.so php/examples/01-readme-flow.php
 */
declare(strict_types=1);

if (!extension_loaded('hurah')) {
    fwrite(STDERR, "load the extension: php -d extension=build/hurah.so " . ($_SERVER['argv'][0] ?? '') . "\n");
    exit(1);
}
require_once __DIR__ . '/../lib/autoload.php';
spl_autoload_register(static function (string $class): void {
    if (str_starts_with($class, 'Hurah\\Examples\\')) {
        $file = __DIR__ . '/lib/' . str_replace('\\', '/', substr($class, strlen('Hurah\\Examples\\'))) . '.php';
        if (is_file($file)) {
            require $file;
        }
    }
});
// Examples write to tmpfs-like temp dirs; skip fsync unless asked otherwise.
if (getenv('HURAH_FSYNC') === false) {
    putenv('HURAH_FSYNC=never');
}

/** A fresh event root under the temp dir, removed when the script ends. */
function example_root(string $name): string
{
    $root = sys_get_temp_dir() . "/hurah-example-$name-" . getmypid();
    register_shutdown_function(static function () use ($root): void {
        example_rm($root);
    });
    return $root;
}

function example_rm(string $path): void
{
    if (is_dir($path) && !is_link($path)) {
        foreach (scandir($path) as $e) {
            if ($e !== '.' && $e !== '..') {
                example_rm("$path/$e");
            }
        }
        rmdir($path);
    } elseif (file_exists($path) || is_link($path)) {
        unlink($path);
    }
}

/** Exits 1 with a message unless $ok. */
function example_check(bool $ok, string $what): void
{
    if (!$ok) {
        fwrite(STDERR, "FAILED: $what\n");
        exit(1);
    }
    echo "ok: $what\n";
}

/** Task files in <root>/<listener dir>/<state>/, sorted. */
function example_files(string $listenerDir, string $state): array
{
    $files = glob("$listenerDir/$state/*.json") ?: [];
    $files = array_map('basename', $files);
    natsort($files);
    return array_values($files);
}

/** The hurah CLI: $HURAH_CLI, build/hurah of this checkout, or `hurah` on the PATH. */
function example_cli(): ?string
{
    foreach ([getenv('HURAH_CLI') ?: null, dirname(__DIR__, 2) . '/build/hurah'] as $c) {
        if ($c !== null && is_file($c) && is_executable($c)) {
            return $c;
        }
    }
    $p = trim((string) shell_exec('command -v hurah 2>/dev/null'));
    return $p !== '' ? $p : null;
}

<?php
declare(strict_types=1);

namespace Hurah\Tests;

use PHPUnit\Framework\TestCase;

/** Gives every test a fresh temporary event root and removes it afterwards. */
abstract class HurahTestCase extends TestCase
{
    protected string $root;

    protected function setUp(): void
    {
        $this->root = sys_get_temp_dir() . '/hurah-phpunit-' . getmypid() . '-' . bin2hex(random_bytes(4));
        // The root itself is created by the code under test when needed.
    }

    protected function tearDown(): void
    {
        self::rmTree($this->root);
        putenv('HURAH_FSYNC=never');
    }

    public static function rmTree(string $path): void
    {
        if (is_link($path) || is_file($path)) {
            @chmod(dirname($path), 0755);
            unlink($path);
            return;
        }
        if (!is_dir($path)) {
            return;
        }
        @chmod($path, 0755);
        foreach (scandir($path) as $e) {
            if ($e !== '.' && $e !== '..') {
                self::rmTree("$path/$e");
            }
        }
        rmdir($path);
    }

    /** Every file under $dir, relative, sorted. */
    protected function files(string $dir = ''): array
    {
        $base = rtrim($this->root . '/' . $dir, '/');
        if (!is_dir($base)) {
            return [];
        }
        $out = [];
        $it = new \RecursiveIteratorIterator(new \RecursiveDirectoryIterator($base, \FilesystemIterator::SKIP_DOTS));
        foreach ($it as $f) {
            if ($f->isFile()) {
                $out[] = substr($f->getPathname(), strlen($base) + 1);
            }
        }
        sort($out);
        return $out;
    }

    /** The names of the *.json files in a listener's state dir, sorted numerically. */
    protected function stateFiles(string $listenerDir, string $state): array
    {
        $dir = "$this->root/$listenerDir/$state";
        if (!is_dir($dir)) {
            return [];
        }
        $out = array_values(array_filter(scandir($dir), fn ($f) => str_ends_with($f, '.json')));
        natsort($out);
        return array_values($out);
    }

    protected function readJson(string $relative): array
    {
        $text = file_get_contents("$this->root/$relative");
        $this->assertIsString($text);
        return json_decode($text, true, 512, JSON_THROW_ON_ERROR);
    }

    /** Runs PHP code in a child process with the extension loaded (same ini settings). */
    protected function runPhp(string $code, array $env = []): array
    {
        $file = tempnam(sys_get_temp_dir(), 'hurah-child');
        file_put_contents($file, $code);
        $cmd = [PHP_BINARY, $file];
        $proc = proc_open($cmd, [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, null, $env + getenv());
        $out = stream_get_contents($pipes[1]);
        $err = stream_get_contents($pipes[2]);
        $status = proc_close($proc);
        unlink($file);
        return [$status, $out, $err];
    }
}

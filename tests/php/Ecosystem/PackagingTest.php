<?php
declare(strict_types=1);

namespace Hurah\Tests\Ecosystem;

use Hurah\Tests\HurahTestCase;

require_once __DIR__ . '/Support/support.php';

/** composer.json, the install script, contrib/ (systemd, supervisor). */
final class PackagingTest extends HurahTestCase
{
    private static function composer(): array
    {
        return json_decode(file_get_contents(REPO . '/composer.json'), true, 512, JSON_THROW_ON_ERROR);
    }

    public function testComposerJson(): void
    {
        $c = self::composer();
        $this->assertSame('hurah/events-native', $c['name']);
        $this->assertSame('>=8.2', $c['require']['php']);
        $this->assertSame('*', $c['require']['ext-hurah']);
        foreach (['psr/log', 'psr/event-dispatcher', 'psr/container'] as $p) {
            $this->assertArrayHasKey($p, $c['require']);
        }
        $this->assertSame(['hurah/events' => '*'], $c['conflict']);
        foreach ($c['autoload']['psr-4'] as $ns => $dir) {
            $this->assertDirectoryExists(REPO . "/$dir", $ns);
        }
        $autoload = json_encode($c['autoload']);
        $this->assertStringNotContainsString('stub', $autoload, 'the IDE stubs must never be loaded at run time');
        $this->assertFileExists(REPO . '/' . $c['extra']['hurah']['ide-stubs']);
        foreach ($c['bin'] as $bin) {
            $this->assertFileIsReadable(REPO . "/$bin");
            $this->assertTrue(is_executable(REPO . "/$bin"), "$bin is executable");
            $this->assertStringStartsWith("#!/usr/bin/env php\n", file_get_contents(REPO . "/$bin"));
        }
    }

    public function testComposerValidatesAndItsAutoloaderFindsEveryLibraryClass(): void
    {
        $composer = trim((string) shell_exec('command -v composer 2>/dev/null'));
        if ($composer === '') {
            $this->markTestSkipped('composer is not installed (apt-get install composer)');
        }
        [$rc, $out, $err] = run([$composer, 'validate', '--no-check-publish', '--no-check-lock', '--no-interaction'], REPO, ['COMPOSER_HOME' => $this->root . '-home']);
        $this->assertSame(0, $rc, $out . $err);

        // A copy of the package: dump its autoloader (no dependencies needed for that) and
        // check that every class in php/lib is found through it.
        $pkg = $this->root . '/pkg';
        mkdir("$pkg/php", 0755, true);
        copy(REPO . '/composer.json', "$pkg/composer.json");
        symlink(realpath(REPO . '/php/lib'), "$pkg/php/lib");
        [$rc, $out, $err] = run([$composer, 'dump-autoload', '--no-interaction', '--no-scripts'], $pkg, ['COMPOSER_HOME' => $this->root . '-home']);
        self::rmTree($this->root . '-home');
        $this->assertSame(0, $rc, $out . $err);
        $classes = [];
        foreach (new \RecursiveIteratorIterator(new \RecursiveDirectoryIterator(REPO . '/php/lib', \FilesystemIterator::SKIP_DOTS)) as $f) {
            $rel = substr((string) $f, strlen(REPO . '/php/lib/'));
            if ($rel !== 'autoload.php' && str_ends_with($rel, '.php')) {
                $classes[] = 'Hurah\\' . str_replace('/', '\\', substr($rel, 0, -4));
            }
        }
        $this->assertContains('Hurah\Psr14\ListenerProvider', $classes);
        // Psr\* from the include path (Debian's php-psr-*), as a project's vendor/ would.
        $code = 'require $argv[1]; spl_autoload_register(function ($c) { if (str_starts_with($c, "Psr\\\\")) { require_once str_replace("\\\\", "/", $c) . ".php"; } });'
            . ' foreach (array_slice($argv, 2) as $c) { if (!class_exists($c) && !interface_exists($c)) { echo "missing $c\n"; } }';
        [$rc, $out, $err] = run(array_merge([PHP_BINARY, '-r', $code, "$pkg/vendor/autoload.php"], $classes));
        $this->assertSame(0, $rc, $err);
        $this->assertSame('', $out);
    }

    public function testInstallScriptDryRunChangesNothing(): void
    {
        $extDir = trim((string) shell_exec('php-config --extension-dir 2>/dev/null'));
        if ($extDir === '') {
            $this->markTestSkipped('php-config is not installed (php8.2-dev)');
        }
        $before = @filemtime("$extDir/hurah.so");
        [$rc, $out, $err] = run(['bash', REPO . '/scripts/install-extension.sh', '--dry-run']);
        $this->assertSame(0, $rc, $err);
        $this->assertStringContainsString("would run: install -m 0644 ", $out);
        $this->assertStringContainsString("$extDir/hurah.so", $out);
        $this->assertMatchesRegularExpression('~would write \S+(mods-available/hurah\.ini|conf\.d/30-hurah\.ini):\n(    .*\n)*    extension=hurah\.so~', $out);
        $this->assertSame($before, @filemtime("$extDir/hurah.so"), 'nothing installed');

        [$rc, , $err] = run(['bash', REPO . '/scripts/install-extension.sh', '--bogus']);
        $this->assertSame(64, $rc);
        $this->assertStringContainsString('unknown argument --bogus', $err);
    }

    public function testInstallScriptIntoADestdirWithAnotherPhpConfig(): void
    {
        mkdir($this->root, 0755, true);
        $fake = "$this->root/php-config";
        file_put_contents($fake, "#!/bin/sh\ncase \"\$1\" in\n --extension-dir) echo /usr/lib/php/20990101;;\n --ini-dir) echo /etc/php-test/conf.d;;\n --version) echo 8.9.1;;\n --php-binary) echo /bin/false;;\nesac\n");
        chmod($fake, 0755);
        $so = "$this->root/hurah.so";
        file_put_contents($so, "not really an ELF file\n");
        [$rc, $out, $err] = run(['bash', REPO . '/scripts/install-extension.sh', '--so', $so, "--php-config=$fake"], null, ['DESTDIR' => "$this->root/stage"]);
        $this->assertSame(0, $rc, $out . $err);
        $this->assertFileEquals($so, "$this->root/stage/usr/lib/php/20990101/hurah.so");
        $this->assertStringContainsString("extension=hurah.so\n", file_get_contents("$this->root/stage/etc/php-test/conf.d/30-hurah.ini"));
        $this->assertSame('0644', substr(sprintf('%o', fileperms("$this->root/stage/usr/lib/php/20990101/hurah.so")), -4));
    }

    public function testMakeInstallRunsTheScript(): void
    {
        [$rc, $out, $err] = run(['make', '-n', '-C', REPO, 'install']);
        $this->assertSame(0, $rc, $err);
        $this->assertStringContainsString('bash scripts/install-extension.sh', $out);
    }

    public function testSystemdUnit(): void
    {
        $unit = file_get_contents(REPO . '/contrib/systemd/hurah-worker@.service');
        foreach (['ExecStart=/usr/bin/php worker.php', 'Restart=always', 'KillSignal=SIGTERM', 'KillMode=mixed', 'ExecReload=/bin/kill -HUP $MAINPID'] as $line) {
            $this->assertMatchesRegularExpression('/^' . preg_quote($line, '/') . '$/m', $unit);
        }
        $this->assertMatchesRegularExpression('/^TimeoutStopSec=\d+$/m', $unit);
        $analyze = trim((string) shell_exec('command -v systemd-analyze 2>/dev/null'));
        if ($analyze !== '' && is_file('/usr/bin/php')) {
            mkdir($this->root, 0755, true);
            copy(REPO . '/contrib/systemd/hurah-worker@.service', "$this->root/hurah-worker@.service");
            [$rc, $out, $err] = run([$analyze, 'verify', '--man=no', "$this->root/hurah-worker@.service"], null, [], 30);
            $this->assertSame('', trim($out . $err), 'systemd-analyze verify');
        }
    }

    public function testSupervisorProgram(): void
    {
        $ini = parse_ini_file(REPO . '/contrib/supervisor/hurah-worker.conf', true, INI_SCANNER_RAW);
        $this->assertIsArray($ini);
        $p = $ini['program:hurah-worker'];
        $this->assertSame('/usr/bin/php worker.php', $p['command']);
        $this->assertSame('true', $p['autorestart']);
        $this->assertSame('TERM', $p['stopsignal']);
        $this->assertGreaterThan(0, (int) $p['stopwaitsecs']);
    }

    public function testWorkerTemplateAndBinScriptsLint(): void
    {
        foreach (['contrib/worker.php', 'bin/worker-runner', 'bin/application.php'] as $f) {
            [$rc, $out] = run([PHP_BINARY, '-l', REPO . "/$f"]);
            $this->assertSame(0, $rc, "$f: $out");
        }
    }
}

<?php
declare(strict_types=1);

namespace Hurah\Tests\Compat;

use Hurah\Event\Dispatcher;
use Hurah\Tests\HurahTestCase;

use function Hurah\Tests\Ecosystem\run;

require_once __DIR__ . '/../Ecosystem/Support/support.php';

/**
 * worker:runner with handlers written for hurah/events, as the original's
 * `php bin/application.php worker:runner <name> <type> <FQCN> <root>` ran them.
 */
final class RunnerTest extends HurahTestCase
{
    private string $out;

    protected function setUp(): void
    {
        parent::setUp();
        $this->out = $this->root . '-out';
        mkdir($this->out, 0755, true);
    }

    protected function tearDown(): void
    {
        self::rmTree($this->out);
        parent::tearDown();
    }

    /** @return array{0: int, 1: string, 2: string, 3: list<string>} exit code, stdout, stderr, out.log lines */
    private function runner(string ...$args): array
    {
        [$rc, $stdout, $stderr] = run(
            array_merge([PHP_BINARY, __DIR__ . '/../../../bin/application.php', 'worker:runner',
                '--autoload=' . __DIR__ . '/user/autoload.php'], $args),
            null,
            ['HURAH_TEST_OUT' => $this->out, 'HURAH_LOG_LEVEL' => 'error']
        );
        $log = is_file("$this->out/out.log") ? file("$this->out/out.log", FILE_IGNORE_NEW_LINES) : [];
        return [$rc, $stdout, $stderr, $log];
    }

    public function testAHandlerWhoseConstructorTakesPathGetsAPath(): void
    {
        mkdir($this->root, 0755, true);
        [$rc, , $err, $log] = $this->runner('-n', '--no-ansi', 'thumbs', 'product/stored', 'App\PathRootHandler', $this->root);
        $this->assertSame(0, $rc, $err);
        $this->assertSame(['constructed with Hurah\Types\Type\Path ' . $this->root], $log);

        (new Dispatcher($this->root))->dispatch('product/stored', ['id' => 1]);
        [$rc, , $err, $log] = $this->runner('--no-interaction', '--ansi', 'thumbs', 'product/stored', 'App\PathRootHandler', $this->root);
        $this->assertSame(0, $rc, $err);
        $this->assertContains('handled {"id":1}', $log);
        $this->assertFileExists("$this->root/product/stored/thumbs_listener/archive/1.json");
    }

    public function testAPlainHandlerInterfaceClassGetsTheOriginalsArguments(): void
    {
        mkdir($this->root, 0755, true);
        [$rc, , $err, $log] = $this->runner('-n', 'plain', 'a/b', 'App\PlainHandler', $this->root);
        $this->assertSame(0, $rc, $err);
        $this->assertSame(["plain plain a/b Hurah\\Types\\Type\\Path $this->root", 'plain handle()'], $log);
    }

    public function testAListenerNamedAsOnlyTheOriginalAllowedIsServed(): void
    {
        // Created by hand or by the original's inotify-wait.sh (mkdir -p).
        mkdir("$this->root/jobs/_x_listener/inbox", 0755, true);
        (new Dispatcher($this->root))->dispatch('jobs', ['n' => 1]);
        $this->assertFileExists("$this->root/jobs/_x_listener/inbox/1.json");
        [$rc, , $err, $log] = $this->runner('-n', '_x', 'jobs', 'App\PathRootHandler', $this->root);
        $this->assertSame(0, $rc, $err);
        $this->assertContains('handled {"n":1}', $log);
        $this->assertFileExists("$this->root/jobs/_x_listener/archive/1.json");
        // A name only the original accepted never creates a listener directory.
        [$rc, , $err] = $this->runner('_y', 'jobs', 'App\PathRootHandler', $this->root);
        $this->assertNotSame(0, $rc);
        $this->assertStringContainsString('already exists', $err);
        $this->assertDirectoryDoesNotExist("$this->root/jobs/_y_listener");
    }
}

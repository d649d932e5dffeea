<?php
declare(strict_types=1);

namespace Hurah\Tests\Ecosystem;

use Hurah\Event\Dispatcher;
use Hurah\Tests\HurahTestCase;

require_once __DIR__ . '/Support/support.php';

/** bin/worker-runner and bin/application.php (worker:runner), run as child processes. */
final class WorkerRunnerTest extends HurahTestCase
{
    private string $out;
    private const FIXTURES = __DIR__ . '/Support/Fixtures.php';

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

    /** @return array{0: int, 1: string, 2: string} */
    private function runner(array $args, string $script = 'worker-runner', ?string $cwd = null, array $env = []): array
    {
        return run(
            array_merge(php(), [REPO . "/bin/$script"], $args),
            $cwd,
            $env + ['HURAH_TEST_OUT' => $this->out, 'HURAH_LOG_LEVEL' => 'error']
        );
    }

    private function dispatchOrders(int $n, string $handler = 'orders'): void
    {
        // Constructing a handler registers the listener; dispatch reaches existing listeners.
        require_once self::FIXTURES;
        new \Fixture\OrderHandler($handler, 'shop/order', $this->root);
        $d = new Dispatcher($this->root);
        for ($i = 1; $i <= $n; $i++) {
            $d->dispatch('shop/order', ['order' => $i]);
        }
    }

    private function handled(): array
    {
        $f = "$this->out/handled.log";
        return is_file($f) ? file($f, FILE_IGNORE_NEW_LINES) : [];
    }

    public function testNoArgumentsIsAUsageError(): void
    {
        [$rc, $out, $err] = $this->runner([]);
        $this->assertSame(64, $rc);
        $this->assertStringContainsString('expected 4 arguments', $err);
        $this->assertStringContainsString('--help', $err);
    }

    public function testHelpExitsZero(): void
    {
        [$rc, $out] = $this->runner(['--help']);
        $this->assertSame(0, $rc);
        $this->assertStringContainsString('Usage: worker-runner [options] <handler_name> <event_type> <handler> <event_root>', $out);
    }

    public function testUnknownOptionAndWatchOnlyOptionsAreUsageErrors(): void
    {
        [$rc, , $err] = $this->runner(['--bogus', 'a', 'b', 'C', $this->root]);
        $this->assertSame(64, $rc);
        $this->assertStringContainsString('unknown option --bogus', $err);

        [$rc, , $err] = $this->runner(['--max-jobs=3', 'orders', 'shop/order', 'Fixture\OrderHandler', $this->root, '--autoload=' . self::FIXTURES]);
        $this->assertSame(64, $rc);
        $this->assertStringContainsString('--max-jobs only applies with --watch', $err);

        [$rc, , $err] = $this->runner(['--watch', '--max-jobs=zero', 'orders', 'shop/order', 'Fixture\OrderHandler', $this->root]);
        $this->assertSame(64, $rc);
        $this->assertStringContainsString('--max-jobs must be a positive integer', $err);
    }

    public function testUnknownClassIsAUsageErrorNamingIt(): void
    {
        [$rc, , $err] = $this->runner(['orders', 'shop/order', 'App\Missing\Handler', $this->root, '--autoload=' . self::FIXTURES]);
        $this->assertSame(64, $rc);
        $this->assertStringContainsString('handler class App\Missing\Handler not found', $err);
        $this->assertStringContainsString('Fixtures.php', $err, 'names the autoloader it loaded');
    }

    public function testAClassThatIsNotAHandlerIsRejectedBeforeItIsConstructed(): void
    {
        [$rc, , $err] = $this->runner(['orders', 'shop/order', 'Fixture\NotAHandler', $this->root, '--autoload=' . self::FIXTURES]);
        $this->assertSame(64, $rc);
        $this->assertStringContainsString('Fixture\NotAHandler does not implement Hurah\Event\HandlerInterface', $err);
        $this->assertFileDoesNotExist("$this->out/constructed.log", 'the original constructed it before checking');
        $this->assertDirectoryDoesNotExist($this->root, 'nothing registered');
    }

    public function testAbstractClassAndBadNamesAreUsageErrors(): void
    {
        [$rc, , $err] = $this->runner(['orders', 'shop/order', 'Fixture\AbstractOrderHandler', $this->root, '--autoload=' . self::FIXTURES]);
        $this->assertSame(64, $rc);
        $this->assertStringContainsString('cannot be instantiated', $err);

        [$rc, , $err] = $this->runner(['../evil', 'shop/order', 'Fixture\OrderHandler', $this->root, '--autoload=' . self::FIXTURES]);
        $this->assertSame(64, $rc);
        $this->assertStringContainsString('../evil', $err);

        [$rc, , $err] = $this->runner(['orders', 'shop//order', 'Fixture\OrderHandler', $this->root, '--autoload=' . self::FIXTURES]);
        $this->assertSame(64, $rc);
        $this->assertStringContainsString('shop//order', $err);
    }

    public function testHandleOnceProcessesEverythingDueAndExitsZero(): void
    {
        $this->dispatchOrders(3);
        [$rc, $out, $err] = $this->runner(['orders', 'shop/order', 'Fixture\OrderHandler', $this->root, '--autoload=' . self::FIXTURES]);
        $this->assertSame(0, $rc, $err);
        $this->assertSame(['{"order":1}', '{"order":2}', '{"order":3}'], $this->handled());
        $this->assertSame(['1.json', '2.json', '3.json'], $this->files('shop/order/orders_listener/archive'));
    }

    public function testTheOriginalInvocationThroughApplicationPhp(): void
    {
        $this->dispatchOrders(2);
        // php bin/application.php worker:runner <handler_name> <event_type> <handler FQCN> <event_root>
        [$rc, , $err] = $this->runner(['worker:runner', 'orders', 'shop/order', '\Fixture\OrderHandler', $this->root], 'application.php', null, ['HURAH_AUTOLOAD' => self::FIXTURES]);
        $this->assertSame(0, $rc, $err);
        $this->assertSame(['{"order":1}', '{"order":2}'], $this->handled());

        [$rc, , $err] = $this->runner(['work', 'orders'], 'application.php');
        $this->assertSame(64, $rc);
        $this->assertStringContainsString('command "work" is not defined', $err);

        [$rc, $out] = $this->runner(['list'], 'application.php');
        $this->assertSame(0, $rc);
        $this->assertStringContainsString('worker:runner', $out);
    }

    public function testConstructorGetsTheOriginalObjectsWhenItAsksForThem(): void
    {
        $this->dispatchOrders(1, 'typed');
        [$rc, , $err] = $this->runner(['typed', 'shop/order', 'Fixture\TypedHandler', $this->root, '--autoload=' . self::FIXTURES]);
        $this->assertSame(0, $rc, $err);
        $this->assertSame(['Hurah\Event\Helper\HandlerName Hurah\Event\EventType ' . $this->root], file("$this->out/typed.log", FILE_IGNORE_NEW_LINES));
        $this->assertSame(['{"order":1}'], $this->handled());
    }

    public function testWatchPassesLimitsThrough(): void
    {
        $this->dispatchOrders(3);
        [$rc, , $err] = $this->runner(['--watch', '--max-jobs=2', '--max-time=20', '--memory-limit=256M', 'orders', 'shop/order', 'Fixture\OrderHandler', $this->root, '--autoload=' . self::FIXTURES]);
        $this->assertSame(0, $rc, $err);
        $this->assertSame(['{"order":1}', '{"order":2}'], $this->handled());
        $this->assertSame(['3.json'], $this->files('shop/order/orders_listener/inbox'));
        $this->assertStringContainsString('orders stopped: 2 handled (2 succeeded', $err);

        [$rc, , $err] = $this->runner(['--watch', '--stop-when-empty', 'orders', 'shop/order', 'Fixture\OrderHandler', $this->root, '--autoload=' . self::FIXTURES]);
        $this->assertSame(0, $rc, $err);
        $this->assertCount(3, $this->handled());
    }

    public function testWatchNeedsAnAbstractHandler(): void
    {
        [$rc, , $err] = $this->runner(['--watch', 'x', 'shop/order', 'Fixture\InterfaceOnly', $this->root, '--autoload=' . self::FIXTURES]);
        $this->assertSame(64, $rc);
        $this->assertStringContainsString('--watch needs a Hurah\Event\AbstractHandler subclass', $err);

        [$rc, , $err] = $this->runner(['x', 'shop/order', 'Fixture\InterfaceOnly', $this->root, '--autoload=' . self::FIXTURES]);
        $this->assertSame(0, $rc, $err);
        $this->assertSame(['interface-only x'], $this->handled());
    }

    public function testFailuresExitOne(): void
    {
        [$rc, , $err] = $this->runner(['orders', 'shop/order', 'Fixture\ThrowingConstructor', $this->root, '--autoload=' . self::FIXTURES]);
        $this->assertSame(1, $rc);
        $this->assertStringContainsString('could not construct Fixture\ThrowingConstructor: RuntimeException: no database connection', $err);

        [$rc, , $err] = $this->runner(['x', 'shop/order', 'Fixture\InterfaceOnly', $this->root, '--autoload=' . self::FIXTURES], env: ['FIXTURE_THROW' => '1']);
        $this->assertSame(1, $rc);
        $this->assertStringContainsString('Fixture\InterfaceOnly::handle() failed: LogicException: handle() blew up', $err);
    }

    public function testWithoutTheExtensionExitsOne(): void
    {
        [$rc, , $err] = run([PHP_BINARY, '-n', REPO . '/bin/worker-runner', 'orders', 'shop/order', 'Fixture\OrderHandler', $this->root], null, ['PHP_INI_SCAN_DIR' => '']);
        $this->assertSame(1, $rc);
        $this->assertStringContainsString('the hurah extension is not loaded', $err);
    }

    public function testFindsTheHostProjectAutoloaderFromTheWorkingDirectory(): void
    {
        $this->dispatchOrders(1);
        $project = $this->out . '/project';
        mkdir("$project/vendor", 0755, true);
        mkdir("$project/var/run", 0755, true);
        file_put_contents("$project/vendor/autoload.php", "<?php\nrequire " . var_export(realpath(self::FIXTURES), true) . ";\n");
        // No --autoload: found by walking up from the working directory.
        [$rc, , $err] = $this->runner(['orders', 'shop/order', 'Fixture\OrderHandler', $this->root], 'worker-runner', "$project/var/run");
        $this->assertSame(0, $rc, $err);
        $this->assertSame(['{"order":1}'], $this->handled());
    }

    public function testFindsTheAutoloaderOfTheVendorDirectoryItIsInstalledIn(): void
    {
        $this->dispatchOrders(1);
        // vendor/hurah/events-native/{bin,php/lib} as Composer installs it.
        $project = $this->out . '/app';
        $pkg = "$project/vendor/hurah/events-native";
        mkdir("$pkg/bin", 0755, true);
        mkdir("$pkg/php", 0755, true);
        copy(REPO . '/bin/worker-runner', "$pkg/bin/worker-runner");
        symlink(realpath(REPO . '/php/lib'), "$pkg/php/lib");
        file_put_contents("$project/vendor/autoload.php", "<?php\nrequire " . var_export(realpath(self::FIXTURES), true) . ";\n");
        $elsewhere = $this->out . '/elsewhere';
        mkdir($elsewhere);
        [$rc, , $err] = run(
            array_merge(php(), ["$pkg/bin/worker-runner", 'orders', 'shop/order', 'Fixture\OrderHandler', $this->root]),
            $elsewhere,
            ['HURAH_TEST_OUT' => $this->out, 'HURAH_LOG_LEVEL' => 'error']
        );
        $this->assertSame(0, $rc, $err);
        $this->assertSame(['{"order":1}'], $this->handled());
    }
}

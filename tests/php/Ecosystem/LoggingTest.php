<?php
declare(strict_types=1);

namespace Hurah\Tests\Ecosystem;

use Hurah\Event\AbstractHandler;
use Hurah\Event\ContextInterface;
use Hurah\Event\Dispatcher;
use Hurah\Event\Task;
use Hurah\Tests\HurahTestCase;
use Psr\Log\LoggerInterface;

require_once __DIR__ . '/Support/support.php';

final class LoggedHandler extends AbstractHandler
{
    public function __construct($name, $type, $root, private readonly LoggerInterface $logger)
    {
        parent::__construct($name, $type, $root);
    }

    public function getLogger(): LoggerInterface
    {
        return $this->logger;
    }

    protected function handleTask(ContextInterface $context): int
    {
        if ($context->getPayload()['fail'] ?? false) {
            $this->addFailureInfo('the printer is on fire');
            return Task::FAILURE;
        }
        return Task::SUCCESS;
    }
}

/** A handler's PSR-3 getLogger() receives the worker's lines, filtered by HURAH_LOG_LEVEL. */
final class LoggingTest extends HurahTestCase
{
    private ?string $savedLevel = null;

    protected function setUp(): void
    {
        parent::setUp();
        $this->savedLevel = getenv('HURAH_LOG_LEVEL') === false ? null : getenv('HURAH_LOG_LEVEL');
    }

    protected function tearDown(): void
    {
        putenv($this->savedLevel === null ? 'HURAH_LOG_LEVEL' : "HURAH_LOG_LEVEL=$this->savedLevel");
        parent::tearDown();
    }

    private function runWith(string $level, bool $watch = false): RecordingLogger
    {
        putenv("HURAH_LOG_LEVEL=$level");
        $logger = new RecordingLogger();
        $h = new LoggedHandler('printer', 'doc/printed', $this->root, $logger);
        $d = new Dispatcher($this->root);
        $d->dispatch('doc/printed', ['doc' => 1]);
        $d->dispatch('doc/printed', ['doc' => 2, 'fail' => true]);
        $watch ? $h->watch(['stopWhenEmpty' => true]) : $h->handle();
        return $logger;
    }

    public function testTheLoggerGetsTheWorkerLinesWithContext(): void
    {
        $logger = $this->runWith('debug');
        $this->assertContains('Queue has 2 items waiting for processing', $logger->messages('info'));
        $this->assertCount(2, array_filter($logger->messages('debug'), static fn ($m) => str_starts_with($m, 'Processing ')));
        $failed = array_values(array_filter($logger->messages('warning'), static fn ($m) => str_starts_with($m, 'Task 2 failed')));
        $this->assertCount(1, $failed);
        $this->assertStringContainsString('the printer is on fire', $failed[0]);
        foreach ($logger->records as [, , $context]) {
            $this->assertSame(['handler' => 'printer', 'event_type' => 'doc/printed'], $context);
        }
    }

    public function testHurahLogLevelFilters(): void
    {
        $logger = $this->runWith('warning');
        $this->assertSame(['warning'], $logger->levels());

        self::rmTree($this->root);
        $logger = $this->runWith('error');
        $this->assertSame([], $logger->records);
    }

    public function testTheWatchLoopLogsThroughItToo(): void
    {
        $logger = $this->runWith('debug', watch: true);
        $this->assertNotEmpty(array_filter($logger->messages('warning'), static fn ($m) => str_starts_with($m, 'Task 2 failed')));
        $this->assertNotEmpty($logger->messages('debug'));
    }

    public function testWithoutALoggerLinesGoToStderrWithLevelAndTimestamp(): void
    {
        $script = '<?php
            final class H extends Hurah\Event\AbstractHandler {
                protected function handleTask(Hurah\Event\ContextInterface $c): int { return Hurah\Event\Task::FAILURE; }
            }
            $h = new H("quiet", "x", $argv[1]);
            (new Hurah\Event\Dispatcher($argv[1]))->dispatch("x", 1);
            $h->handle();';
        $file = $this->root . '-script.php';
        file_put_contents($file, $script);
        try {
            [$rc, $out, $err] = run([PHP_BINARY, $file, $this->root], null, ['HURAH_LOG_LEVEL' => 'info']);
        } finally {
            unlink($file);
        }
        $this->assertSame(0, $rc, $err);
        $this->assertMatchesRegularExpression('/^\[\d{4}-\d\d-\d\dT[0-9:]+(\.\d+)?(Z|[+-]\d\d:\d\d)\] hurah\.INFO: Queue has 1 items waiting for processing/m', $err);
        $this->assertMatchesRegularExpression('/hurah\.WARNING: Task 1 failed/', $err);
    }
}

<?php
declare(strict_types=1);

namespace Hurah\Tests\Compat;

use App\ImageScaler;
use Hurah\Event\Dispatcher;
use Hurah\Event\EventType;
use Hurah\Event\Helper\HandlerName;
use Hurah\Event\Task;
use Hurah\Tests\HurahTestCase;
use Hurah\Types\Type\Path;

/**
 * hurah and hurah/events on one event root: OriginalLibrary does what the original's
 * dispatcher and worker do to the files; hurah must deliver where it delivered, read and write
 * the same files, and count retries the same way.
 */
final class MixedDeploymentTest extends HurahTestCase
{
    protected function setUp(): void
    {
        parent::setUp();
        ImageScaler::$seen = [];
        ImageScaler::$status = Task::SUCCESS;
    }

    /** Listener directories (relative to $root) holding an inbox file, with how many. */
    private static function delivered(string $root): array
    {
        $out = [];
        foreach (glob("$root/{,*/,*/*/,*/*/*/}*_listener/inbox/*.json", GLOB_BRACE) as $f) {
            $dir = substr(dirname($f, 2), strlen($root) + 1);
            $out[$dir] = ($out[$dir] ?? 0) + 1;
        }
        ksort($out);
        return $out;
    }

    private static function listeners(string $root, array $dirs): void
    {
        foreach ($dirs as $d) {
            mkdir("$root/$d", 0755, true);
        }
    }

    public function testHurahDeliversToEveryListenerDirectoryTheOriginalDeliversTo(): void
    {
        $dirs = ['product/_x_listener', 'product/a b_listener', "product/\u{dc}n\u{ef}_listener",
                 'product/stored/ok_listener', 'all_listener', 'product/stored/deeper/no_listener'];
        self::listeners("$this->root/old", $dirs);
        self::listeners("$this->root/new", $dirs);
        OriginalLibrary::dispatch("$this->root/old", ['product', 'stored'], ['id' => 1]);
        (new Dispatcher("$this->root/new"))->dispatch(new EventType('product', 'stored'), ['id' => 1]);
        $expected = self::delivered("$this->root/old");
        $this->assertCount(5, $expected);
        $this->assertSame($expected, self::delivered("$this->root/new"));

        // And hurah's worker serves such a listener.
        $h = new ImageScaler(new HandlerName('a b'), new EventType('product'), new Path("$this->root/new"));
        $h->handle();
        $this->assertSame([['id' => 1]], array_column(ImageScaler::$seen, 'payload'));
        $this->assertFileExists("$this->root/new/product/a b_listener/archive/1.json");
    }

    public function testA0BIsDeliveredWhereTheOriginalDeliveredIt(): void
    {
        $dirs = ['a/b/x_listener', 'a/y_listener', 'z_listener', 'a/0/b/w_listener'];
        self::listeners("$this->root/old", $dirs);
        self::listeners("$this->root/new", $dirs);
        OriginalLibrary::dispatch("$this->root/old", ['a', '0', 'b'], 1);
        (new Dispatcher("$this->root/new"))->dispatch('a/0/b', 1);
        $old = self::delivered("$this->root/old");
        // The original delivered to a/ twice (a duplicate delivery point); hurah once.
        $this->assertSame(['a/b/x_listener' => 1, 'a/y_listener' => 2, 'z_listener' => 1], $old);
        $this->assertSame(array_fill_keys(array_keys($old), 1), self::delivered("$this->root/new"));
        $this->assertSame('a/b', (string) EventType::fromString('a/0/b'));
    }

    public function testEachSideReadsWhatTheOtherWrote(): void
    {
        self::listeners($this->root, ['shop/mail_listener']);
        $listener = "$this->root/shop/mail_listener";
        // Old producer, new worker.
        OriginalLibrary::dispatch($this->root, ['shop'], ['to' => 'a@b.c', 'n' => 1]);
        $h = new ImageScaler(new HandlerName('mail'), new EventType('shop'), new Path($this->root));
        $h->handle();
        $this->assertSame([['to' => 'a@b.c', 'n' => 1]], array_column(ImageScaler::$seen, 'payload'));
        $this->assertSame([1], array_column(ImageScaler::$seen, 'sequence'));
        // New producer (same tracking.json: sequence 2), old worker.
        (new Dispatcher($this->root))->dispatch('shop', ['to' => 'd@e.f', 'n' => 2]);
        $seen = [];
        OriginalLibrary::handle($listener, static function (array $task) use (&$seen): int {
            $seen[] = [$task['sequence'], $task['count'], $task['payload']];
            return Task::SUCCESS;
        }, 0);
        $this->assertSame([[2, 2, ['to' => 'd@e.f', 'n' => 2]]], $seen);
        $this->assertSame(['1.json', '2.json'], array_values(array_diff(scandir("$listener/archive"), ['.', '..'])));
        $tracking = json_decode(file_get_contents("$listener/tracking.json"), true);
        $this->assertSame(['sequence', 'count', 'first', 'last'], array_keys($tracking));
        $this->assertSame(2, $tracking['sequence']);
    }

    public function testTaskFilesAreWrittenByteForByteAsTheOriginalWroteThem(): void
    {
        $old = date_default_timezone_get();
        date_default_timezone_set('America/New_York');
        try {
            self::listeners("$this->root/old", ['e/l_listener']);
            self::listeners("$this->root/new", ['e/l_listener']);
            $payload = ['qty' => 2.0, 'price' => 2.5, 'url' => 'http://x/y', 'name' => "Ünï \u{1F600}", 'big' => 1e20, 'list' => [1, 'a']];
            OriginalLibrary::dispatch("$this->root/old", ['e'], $payload);
            (new Dispatcher("$this->root/new"))->dispatch('e', $payload);
            $original = file_get_contents("$this->root/old/e/l_listener/inbox/1.json");
            $ours = file_get_contents("$this->root/new/e/l_listener/inbox/1.json");
            // Same payload text; the same keys first; delivery in PHP's time zone.
            $cut = static fn (string $s): string => preg_replace('/"delivery":"[^"]*".*$/', '', $s);
            $this->assertSame($cut($original), $cut($ours));
            $this->assertStringContainsString('"qty":2,', $ours);
            preg_match('/"delivery":"([^"]*)"/', $ours, $m);
            $this->assertMatchesRegularExpression('/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-0[45]:00$/', $m[1]);
            $this->assertSame((new \DateTime($m[1]))->format('c'), $m[1]);
            $this->assertEqualsWithDelta(time(), (new \DateTime($m[1]))->getTimestamp(), 60);
            $tracking = json_decode(file_get_contents("$this->root/new/e/l_listener/tracking.json"), true);
            $this->assertStringEndsWith(substr($m[1], -6), $tracking['last']);
        } finally {
            date_default_timezone_set($old);
        }
    }

    /** @return int how many times the task ran before it landed in error/ */
    private function alternate(bool $originalFirst): int
    {
        self::rmTree($this->root);
        self::listeners($this->root, ['job/scaler_listener']);
        $listener = "$this->root/job/scaler_listener";
        ImageScaler::$seen = [];
        ImageScaler::$status = Task::RETRY; // maxAttempts() = 2: 3 runs
        $h = new ImageScaler(new HandlerName('scaler'), new EventType('job'), new Path($this->root));
        OriginalLibrary::dispatch($this->root, ['job'], ['n' => 1]);
        $originalRuns = 0;
        for ($turn = 0; $turn < 12 && !is_file("$listener/error/1.json"); $turn++) {
            if (($turn % 2 === 0) === $originalFirst) {
                $originalRuns += OriginalLibrary::handle($listener, static fn (): int => Task::RETRY, 2);
            } else {
                $h->handle();
            }
        }
        $this->assertFileExists("$listener/error/1.json");
        $this->assertSame([], glob("$listener/inbox/*.json"));
        return $originalRuns + count(ImageScaler::$seen);
    }

    public function testRetriesAreCountedOnceWhicheverWorkerRunsTheTask(): void
    {
        $this->assertSame(3, $this->alternate(true));
        $this->assertSame(3, $this->alternate(false));
    }
}

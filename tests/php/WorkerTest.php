<?php
declare(strict_types=1);

namespace Hurah\Tests;

use Hurah\Event\Dispatcher;
use Hurah\Event\Worker;
use Hurah\Exception\InvalidArgumentException;

final class WorkerTest extends HurahTestCase
{
    public function testWatchWithStopWhenEmptyHandlesEverythingAndReturnsStats(): void
    {
        $h = new ScriptedHandler('w', 'e', $this->root);
        $d = new Dispatcher($this->root);
        $d->dispatch('e', ['do' => 'success']);
        $d->dispatch('e', ['do' => 'throw']);
        $d->dispatch('e', ['do' => 'success']);
        $stats = $h->watch(['stopWhenEmpty' => true]);
        $this->assertSame(['handled' => 3, 'succeeded' => 2, 'failed' => 1, 'retried' => 0, 'recovered' => 0], $stats);
        $this->assertSame([1, 2, 3], $h->seqs());
    }

    public function testWatchStopsAfterMaxJobs(): void
    {
        $h = new ScriptedHandler('w', 'e', $this->root);
        $d = new Dispatcher($this->root);
        for ($i = 0; $i < 5; $i++) {
            $d->dispatch('e', ['do' => 'success']);
        }
        $stats = $h->watch(['maxJobs' => 2]);
        $this->assertSame(2, $stats['handled']);
        $this->assertCount(3, $this->stateFiles('e/w_listener', 'inbox'));
        $h->handle();
        $this->assertSame([1, 2, 3, 4, 5], $h->seqs());
    }

    public function testWatchStopsAtMaxTimeWhenIdle(): void
    {
        $h = new ScriptedHandler('w', 'e', $this->root);
        $t = microtime(true);
        $stats = $h->watch(['maxTime' => 0.3, 'sleep' => 5]);
        $elapsed = microtime(true) - $t;
        $this->assertSame(0, $stats['handled']);
        $this->assertGreaterThanOrEqual(0.25, $elapsed);
        $this->assertLessThan(3, $elapsed);
    }

    public function testWatchStopsAtTheMemoryLimit(): void
    {
        $h = new ScriptedHandler('w', 'e', $this->root);
        $d = new Dispatcher($this->root);
        for ($i = 0; $i < 3; $i++) {
            $d->dispatch('e', ['do' => 'success']);
        }
        $stats = $h->watch(['memoryLimit' => '1K']);
        $this->assertSame(1, $stats['handled']);
    }

    public function testAWorkerRunsSeveralHandlers(): void
    {
        $a = new ScriptedHandler('a', 'x', $this->root);
        $b = new ScriptedHandler('b', 'y', $this->root);
        $d = new Dispatcher($this->root);
        $d->dispatch('x', 1);
        $d->dispatch('y', 2);
        $d->dispatch('y', 3);
        $w = new Worker();
        $this->assertSame($w, $w->add($a)->add($b));
        $stats = $w->run(['stopWhenEmpty' => true]);
        $this->assertSame(3, $stats['handled']);
        $this->assertSame([1], array_column($a->seen, 'payload'));
        $this->assertSame([2, 3], array_column($b->seen, 'payload'));
    }

    public function testAWatchingWorkerPicksUpTasksDispatchedByAnotherProcess(): void
    {
        $h = new ScriptedHandler('w', 'e', $this->root);
        $child = proc_open([PHP_BINARY, '-r', 'usleep(300000); (new Hurah\Event\Dispatcher($argv[1]))->dispatch("e", ["late" => true]);', $this->root],
            [], $pipes);
        $stats = $h->watch(['maxJobs' => 1, 'maxTime' => 10]);
        proc_close($child);
        $this->assertSame(1, $stats['handled']);
        $this->assertSame([['late' => true]], array_column($h->seen, 'payload'));
    }

    public function testSigtermStopsAWatchingWorkerCleanly(): void
    {
        $code = <<<PHP
        <?php
        class H extends Hurah\\Event\\AbstractHandler {
            protected function handleTask(Hurah\\Event\\ContextInterface \$c): int { return 0; }
            public function getLogger() { return new class { public function __call(\$m, \$a) {} }; }
        }
        \$h = new H('s', 'e', '{$this->root}');
        echo "ready\\n";
        \$stats = \$h->watch(['maxTime' => 20]);
        echo "stopped ", json_encode(\$stats), "\\n";
        PHP;
        $file = tempnam(sys_get_temp_dir(), 'hurah-sig');
        file_put_contents($file, $code);
        $proc = proc_open([PHP_BINARY, $file], [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
        $this->assertSame("ready\n", fgets($pipes[1]));
        usleep(300000);
        $t = microtime(true);
        proc_terminate($proc, SIGTERM);
        $out = stream_get_contents($pipes[1]);
        $status = proc_close($proc);
        unlink($file);
        $this->assertLessThan(2, microtime(true) - $t);
        $this->assertSame(0, $status);
        $this->assertStringStartsWith('stopped {"handled":0', $out);
    }

    public function testBadOptionsAreRejected(): void
    {
        $h = new ScriptedHandler('w', 'e', $this->root);
        foreach ([['maxJobs' => -1], ['memoryLimit' => 'lots'], ['maxTime' => 'soon'], ['nope' => 1], ['sleep' => 0]] as $o) {
            try {
                $h->watch($o);
                $this->fail('accepted ' . json_encode($o));
            } catch (InvalidArgumentException $e) {
                $this->addToAssertionCount(1);
            }
        }
    }
}

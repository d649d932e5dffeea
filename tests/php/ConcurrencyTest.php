<?php
declare(strict_types=1);

namespace Hurah\Tests;

use Hurah\Event\Dispatcher;

final class ConcurrencyTest extends HurahTestCase
{
    public function testTwoProcessesCallingHandleOnOneListenerRunEachTaskExactlyOnce(): void
    {
        $n = 400;
        $log = "$this->root/runs.log";
        new PlainHandler('c', 'e', $this->root);
        $d = new Dispatcher($this->root, ['fsync' => 'never']);
        for ($i = 1; $i <= $n; $i++) {
            $d->dispatch('e', ['n' => $i]);
        }
        $code = <<<PHP
        <?php
        class C extends Hurah\\Event\\AbstractHandler {
            protected function handleTask(Hurah\\Event\\ContextInterface \$c): int {
                \$f = fopen('$log', 'a'); // O_APPEND: one line per run, never interleaved
                fwrite(\$f, \$c->getPayload()['n'] . ' ' . getmypid() . "\\n");
                fclose(\$f);
                usleep(200);
                return 0;
            }
            public function getLogger() { return new class { public function __call(\$m, \$a) {} }; }
        }
        \$h = new C('c', 'e', '{$this->root}');
        for (\$i = 0; \$i < 3; \$i++) { \$h->handle(); }
        PHP;
        $file = tempnam(sys_get_temp_dir(), 'hurah-conc');
        file_put_contents($file, $code);
        $procs = [];
        for ($p = 0; $p < 2; $p++) {
            $procs[] = proc_open([PHP_BINARY, $file], [1 => ['file', '/dev/null', 'w'], 2 => ['pipe', 'w']], $pipes);
            $errs[] = $pipes[2];
        }
        foreach ($procs as $i => $proc) {
            $err = stream_get_contents($errs[$i]);
            $this->assertSame(0, proc_close($proc), $err);
        }
        unlink($file);
        $lines = file($log, FILE_IGNORE_NEW_LINES);
        $ns = array_map(fn ($l) => (int) explode(' ', $l)[0], $lines);
        sort($ns);
        $this->assertSame(range(1, $n), $ns, 'every task ran exactly once');
        $pids = array_unique(array_map(fn ($l) => explode(' ', $l)[1], $lines));
        $this->assertCount(2, $pids, 'both processes took part');
        $this->assertCount($n, $this->stateFiles('e/c_listener', 'archive'));
        $this->assertSame([], $this->stateFiles('e/c_listener', 'inbox'));
    }
}

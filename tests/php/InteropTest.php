<?php
declare(strict_types=1);

namespace Hurah\Tests;

use Hurah\Event\Dispatcher;

/**
 * C and PHP share queues: a C program (examples/c/producer.c, linked against build/libhurah.so)
 * dispatches and a PHP handler handles; PHP dispatches and a C consumer (examples/c/consumer.c)
 * handles. The programs are compiled here with gcc -Wall -Wextra -Werror.
 */
final class InteropTest extends HurahTestCase
{
    private static string $bin;

    public static function setUpBeforeClass(): void
    {
        $repo = dirname(__DIR__, 2);
        self::$bin = sys_get_temp_dir() . '/hurah-interop-' . getmypid();
        @mkdir(self::$bin);
        foreach (['producer', 'consumer'] as $prog) {
            $cmd = sprintf(
                'gcc -Wall -Wextra -Werror -std=c11 -I%1$s/include %1$s/examples/c/%2$s.c -o %3$s/%2$s -L%1$s/build -Wl,-rpath,%1$s/build -lhurah -pthread 2>&1',
                escapeshellarg($repo), $prog, escapeshellarg(self::$bin)
            );
            exec($cmd, $out, $rc);
            if ($rc !== 0) {
                self::fail("compiling $prog failed:\n" . implode("\n", $out));
            }
        }
    }

    public static function tearDownAfterClass(): void
    {
        self::rmTree(self::$bin);
    }

    private function exec(array $argv): array
    {
        $cmd = implode(' ', array_map('escapeshellarg', $argv)) . ' 2>&1';
        exec($cmd, $out, $rc);
        $this->assertSame(0, $rc, "$cmd\n" . implode("\n", $out));
        return $out;
    }

    public function testCProducerDispatchesAndPhpHandlerHandles(): void
    {
        $handler = new ScriptedHandler('php_side', 'product', $this->root);
        $this->exec([self::$bin . '/producer', $this->root, 'product/created', '{"product_id":42,"from":"c"}']);
        $this->exec([self::$bin . '/producer', $this->root, 'product', '"plain string"']);
        $handler->handle();
        $this->assertSame([1, 2], $handler->seqs());
        $this->assertSame(['product_id' => 42, 'from' => 'c'], $handler->seen[0]['payload']);
        $this->assertSame('plain string', $handler->seen[1]['payload']);
        $this->assertSame(['1.json', '2.json'], $this->stateFiles('product/php_side_listener', 'archive'));
    }

    public function testPhpDispatchesAndCConsumerHandles(): void
    {
        // Register the C listener first (a consumer run on an empty queue does that).
        $this->exec([self::$bin . '/consumer', $this->root, 'order', 'c_side']);
        $d = new Dispatcher($this->root);
        $id = $d->dispatch('order/paid', ['order_id' => 7, 'name' => 'Zoë']);
        $out = $this->exec([self::$bin . '/consumer', $this->root, 'order', 'c_side']);
        $this->assertCount(1, $out);
        // "<sequence> <event_type> <attempt> <id> <payload JSON>"
        [$seq, $type, $attempt, $gotId, $json] = explode(' ', $out[0], 5);
        $this->assertSame(['1', 'order/paid', '1', $id], [$seq, $type, $attempt, $gotId]);
        $this->assertSame(['order_id' => 7, 'name' => 'Zoë'], json_decode($json, true));
        $this->assertSame(['1.json'], $this->stateFiles('order/c_side_listener', 'archive'));
    }

    public function testCConsumerFailureIsStoredForPhpToSee(): void
    {
        $this->exec([self::$bin . '/consumer', $this->root, 'job', 'c_fail']);
        (new Dispatcher($this->root))->dispatch('job', [1]);
        $this->exec([self::$bin . '/consumer', $this->root, 'job', 'c_fail', '--outcome', '1']);
        $err = $this->readJson('job/c_fail_listener/error/1.json');
        $this->assertSame('consumer was told to fail', $err['error']['reason']);
        $this->assertSame([1], $err['payload']);
    }
}

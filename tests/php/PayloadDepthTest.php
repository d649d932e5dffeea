<?php
declare(strict_types=1);

namespace Hurah\Tests;

use Hurah\Event\Dispatcher;

/** Payloads nest as deep as PHP's own json_encode writes by default (512 levels). */
final class PayloadDepthTest extends HurahTestCase
{
    private static function nested(int $depth): mixed
    {
        $p = 1;
        for ($i = 0; $i < $depth; $i++) {
            $p = [$p];
        }
        return $p;
    }

    public function testAPayloadAsDeepAsJsonEncodeWritesIsDispatchedAndHandled(): void
    {
        $payload = self::nested(512);
        $this->assertNotFalse(json_encode($payload), 'json_encode writes it');
        $h = new ScriptedHandler('h', 'e', $this->root);
        (new Dispatcher($this->root))->dispatch('e', $payload);
        $h->handle();
        $this->assertSame([1], $h->seqs());
        $this->assertSame($payload, $h->seen[0]['payload']);
        $this->assertSame(['1.json'], $this->stateFiles('e/h_listener', 'archive'));
    }

    public function testADeeperPayloadIsRefusedNamingTheLimit(): void
    {
        new ScriptedHandler('h', 'e', $this->root);
        try {
            (new Dispatcher($this->root))->dispatch('e', self::nested(600));
            $this->fail('dispatched a payload nested 600 deep');
        } catch (\Throwable $e) {
            $this->assertStringContainsString('512', $e->getMessage());
        }
        $this->assertSame([], $this->stateFiles('e/h_listener', 'inbox'));
    }

    public function testJsonTextNestedDeeperThanTheLimitIsRefusedNamingItsDepth(): void
    {
        $deep = str_repeat('[', 600) . '1' . str_repeat(']', 600);
        try {
            new \Hurah\Event\Json($deep);
            $this->fail('accepted JSON nested 600 deep');
        } catch (\Throwable $e) {
            $this->assertStringContainsString('600', $e->getMessage());
        }
        $ok = str_repeat('[', 512) . '1' . str_repeat(']', 512);
        $this->assertSame($ok, (string) new \Hurah\Event\Json($ok));
    }
}

<?php
declare(strict_types=1);

namespace Hurah\Tests;

use Hurah\Event\Dispatcher;

/** What a handler says about its last RETRY is kept when the retry limit sends it to error/. */
final class RetryReasonTest extends HurahTestCase
{
    public function testTheRetryLimitReasonKeepsTheLastAttemptsFailureInfo(): void
    {
        $h = new ScriptedHandler('h', 'e', $this->root);
        (new Dispatcher($this->root))->dispatch('e', ['do' => 'retry']);
        $h->failureInfo = ['smtp busy'];
        $h->handle();
        $e = $this->readJson('e/h_listener/error/1.json');
        $this->assertSame(
            "Hit retry limit which is set to: 0. Last attempt: 1.) smtp busy",
            $e['error']['reason']
        );
        $this->assertSame(1, $e['retry_count']);
    }

    public function testWithoutFailureInfoTheOriginalTextStays(): void
    {
        $h = new ScriptedHandler('h', 'e', $this->root);
        (new Dispatcher($this->root))->dispatch('e', ['do' => 'retry']);
        $h->handle();
        $e = $this->readJson('e/h_listener/error/1.json');
        $this->assertSame('Hit retry limit which is set to: 0.', $e['error']['reason']);
    }
}

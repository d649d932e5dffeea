<?php
/*
 * Builds the Hurah\Event\Context objects the extension hands out (worker, getQueue(),
 * getDelayed(), Context::fromPath()). Internal: loaded by the hurah extension, which embeds this
 * file; not part of the API.
 */

namespace Hurah\Internal;

use Hurah\Event\AbstractContext;
use Hurah\Event\Context;

final class ContextFactory
{
    /**
     * A delivered context from a task file's JSON text and what the extension derived from it.
     * As the original Context::fromPath(): the whole file becomes $data (extra keys such as
     * retry_count are kept), sequence/count/delivery come from their keys.
     */
    public static function make(string $json, ?int $sequence, ?int $count, ?string $delivery, int $attempt, ?string $id, ?string $eventType): Context
    {
        // The task object nests the payload one level deeper than the 512 levels a payload may have.
        $data = json_decode($json, true, 1024);
        if (!is_array($data)) {
            $data = ['payload' => null];
        }
        $context = new Context($data['payload'] ?? null);
        \Closure::bind(static function (AbstractContext $c) use ($data, $sequence, $count, $delivery, $attempt, $id, $eventType): void {
            $c->data = $data;
            if ($sequence !== null) {
                $c->sequence = $sequence;
            }
            if ($count !== null) {
                $c->count = $count;
            }
            if ($delivery !== null) {
                $c->delivery = $delivery;
            }
            $c->hurahAttempt = $attempt;
            $c->hurahId = $id;
            $c->hurahEventType = $eventType;
        }, null, AbstractContext::class)($context);
        return $context;
    }

    /** Context::fromPath(): reads and checks the file in the extension (typed errors). */
    public static function fromFile(string $path): Context
    {
        return self::make(...task_file($path));
    }
}

<?php
/*
 * Hurah\Event\AbstractContext with hurah/events' exact signatures and protected properties, so
 * subclasses written for the original load and run unchanged (they must define fromPath(), as
 * with the original). Loaded by the hurah extension on first use (it embeds this file).
 *
 * hurah's additions (getCount(), getDelivery(), getId(), getAttempt(), getEventType()) declare
 * no return type and the state behind them is private, so a subclass may declare members with
 * the same names and any signature.
 */

namespace Hurah\Event;

use Hurah\Types\Type\Json;

abstract class AbstractContext implements ContextInterface
{
    protected array $data;
    protected int $sequence;
    protected int $count;
    protected string $delivery;

    /** Which run of the task this is, from 1 (set by the worker). */
    private int $hurahAttempt = 1;
    /** The dispatch id shared by every listener's copy (set by the worker). */
    private ?string $hurahId = null;
    /** The dispatched event type, 'a/b' (set by the worker). */
    private ?string $hurahEventType = null;

    /** @param mixed $data any JSON-encodable value (checked when dispatched) */
    public function __construct($data)
    {
        $this->data = ['payload' => $data];
    }

    /** The dispatched data; once delivered, JSON objects come back as associative arrays. */
    public function getPayload()
    {
        return $this->data['payload'] ?? null;
    }

    /**
     * The task as JSON, encoded as the original did (compact, `\/`, `\uXXXX`): the task file's
     * keys with sequence, count and delivery as set. Unlike the original it neither changes the
     * context nor throws on a context that was never delivered (the unset keys are left out).
     */
    public function toJson(): Json
    {
        $data = $this->data;
        foreach (['sequence', 'count', 'delivery'] as $key) {
            if (isset($this->$key)) {
                $data[$key] = $this->$key;
            }
        }
        // A payload may nest 512 levels (json_encode's default); the task object adds one.
        $text = json_encode($data, 0, 1024);
        if ($text === false) {
            throw new \Hurah\Exception\EncodingException('the context cannot be encoded as JSON: ' . json_last_error_msg());
        }
        return new Json($text);
    }

    /** The per-listener sequence number (0 before delivery). */
    public function getSequence(): int
    {
        return $this->sequence ?? 0;
    }

    public function setSequence(int $sequence)
    {
        $this->sequence = $sequence;
    }

    public function setCount(int $count)
    {
        $this->count = $count;
    }

    public function setDelivery(string $delivery)
    {
        $this->delivery = $delivery;
    }

    /**
     * The per-listener count (equals the sequence; 0 before delivery). hurah addition.
     * @return int
     */
    public function getCount()
    {
        return $this->count ?? 0;
    }

    /**
     * The ISO-8601 delivery time, null before delivery. hurah addition.
     * @return string|null
     */
    public function getDelivery()
    {
        return $this->delivery ?? null;
    }

    /**
     * The dispatch id shared by all listeners' copies (the sequence for files written by the
     * original library), null before delivery. hurah addition.
     * @return string|null
     */
    public function getId()
    {
        return $this->hurahId;
    }

    /**
     * Which run of this task this is, from 1. hurah addition.
     * @return int
     */
    public function getAttempt()
    {
        return $this->hurahAttempt;
    }

    /**
     * The dispatched event type (the listener's own for files written by the original
     * library), null before delivery. hurah addition.
     * @return EventType|null
     */
    public function getEventType()
    {
        return $this->hurahEventType === null ? null : EventType::fromString($this->hurahEventType);
    }
}

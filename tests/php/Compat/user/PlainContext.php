<?php

namespace App;

use Hurah\Event\ContextInterface;
use Hurah\Types\Type\Json;
use Hurah\Types\Type\Path;

/** A class implementing ContextInterface directly, with the original's exact signatures. */
class PlainContext implements ContextInterface
{
    private $payload;
    private $sequence = 0;

    public function __construct($data)
    {
        $this->payload = $data;
    }

    public static function fromPath(Path $path): ContextInterface
    {
        return new self(json_decode(file_get_contents((string) $path), true)['payload']);
    }

    public function getPayload()
    {
        return $this->payload;
    }

    public function toJson(): Json
    {
        return new Json(json_encode(['payload' => $this->payload]));
    }

    public function getSequence(): int
    {
        return $this->sequence;
    }

    public function setSequence(int $sequence)
    {
        $this->sequence = $sequence;
    }

    public function setCount(int $count)
    {
    }

    public function setDelivery(string $delivery)
    {
    }
}

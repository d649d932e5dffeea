<?php
/*
 * Hurah\Event\ContextInterface with hurah/events' exact signatures (names, parameter and return
 * types, or none where the original declared none), so every class written against the original
 * interface is valid here. Loaded by the hurah extension on first use (never by Composer): the
 * extension embeds this file. `Path` and `Json` are hurah/data-types' classes; without
 * data-types the extension provides stand-ins with those names (php/compat/Types/).
 */

namespace Hurah\Event;

use Hurah\Types\Type\Json;
use Hurah\Types\Type\Path;

interface ContextInterface
{
    public function __construct($data);

    public static function fromPath(Path $path): ContextInterface;

    public function getPayload();

    public function toJson(): Json;

    public function getSequence(): int;

    public function setSequence(int $sequence);

    public function setCount(int $count);

    public function setDelivery(string $delivery);
}

// hurah's own name for the JSON value toJson() returns: declared with this interface so that
// `instanceof \Hurah\Event\Json` (which never autoloads) holds for every toJson() result.
if (!\class_exists(\Hurah\Event\Json::class, false)) {
    \class_alias(Json::class, \Hurah\Event\Json::class);
}

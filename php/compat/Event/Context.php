<?php
/*
 * Hurah\Event\Context with hurah/events' exact signatures. Loaded by the hurah extension on first
 * use (it embeds this file). The worker always hands handlers a Context, as the original did.
 */

namespace Hurah\Event;

use Hurah\Types\Type\Path;

class Context extends AbstractContext
{
    /** @param mixed $data any JSON-encodable value (checked when dispatched) */
    public function __construct($data)
    {
        parent::__construct($data);
    }

    /**
     * Reads a task file (inbox/7.json, error/3.json, ...), written by hurah or by hurah/events.
     * Pass `new Path($file)` (hurah/data-types' Path, or the extension's stand-in with that name).
     * @throws \Hurah\Exception\IoException|\Hurah\Exception\CorruptTaskException
     */
    public static function fromPath(Path $path): ContextInterface
    {
        return \Hurah\Internal\ContextFactory::fromFile((string) $path);
    }
}

<?php
declare(strict_types=1);

namespace Hurah\Psr14;

/**
 * Marker interface: a listener class implementing it runs in a hurah worker instead of inside
 * `dispatch()` (as Laravel's `ShouldQueue`). Equivalent to `#[Queued]` with every option at its
 * default; use the attribute to choose the event type, handler name or retries.
 */
interface ShouldQueue
{
}

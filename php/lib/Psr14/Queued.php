<?php
declare(strict_types=1);

namespace Hurah\Psr14;

use Attribute;

/**
 * Marks a listener class (or one listener method) to run later, in a hurah worker, instead of
 * inside the emitter's `dispatch()` call. The listener decides, not the emitter (PSR-14's
 * "delayed events" example; Laravel's ShouldQueue).
 *
 * ```php
 * #[Queued(eventType: 'shop/product-created', handlerName: 'welcome-mail', maxAttempts: 3, retryDelay: 10)]
 * final class SendWelcomeMail { public function __invoke(ProductCreated $e): void { ... } }
 * ```
 *
 * - eventType:   the hurah event type the event is dispatched to (default: derived from the
 *                event class the listener is registered for, `App\Event\ProductCreated` ->
 *                `app/event/product-created`, see {@see Names::eventType()}).
 * - handlerName: the hurah handler (listener directory `<type>/<name>_listener/`) (default:
 *                derived from the service id and method, see {@see Names::handlerName()}).
 * - maxAttempts: retries after the listener threw (M retries = M+1 runs); then `error/`.
 * - retryDelay:  seconds before each retry (null: at once).
 */
#[Attribute(Attribute::TARGET_CLASS | Attribute::TARGET_METHOD)]
final class Queued
{
    public function __construct(
        public readonly ?string $eventType = null,
        public readonly ?string $handlerName = null,
        public readonly int $maxAttempts = 0,
        public readonly int|float|null $retryDelay = null,
    ) {
    }
}

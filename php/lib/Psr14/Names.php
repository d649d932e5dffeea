<?php
declare(strict_types=1);

namespace Hurah\Psr14;

use Hurah\Exception\InvalidArgumentException;

/** How the bridge names hurah event types and handlers when they are not given explicitly. */
final class Names
{
    /**
     * `App\Event\ProductCreated` -> `app/event/product-created`, `HTTPRequestFailed` ->
     * `http-request-failed`, `Legacy_Event` -> `legacy-event`.
     *
     * @throws InvalidArgumentException for class names that give no valid event type
     *         (non-ASCII names, anonymous classes): pass the event type explicitly
     */
    public static function eventType(string $class): string
    {
        $segments = array_map([self::class, 'kebab'], explode('\\', ltrim($class, '\\')));
        $type = implode('/', $segments);
        if (!preg_match('~^[a-z0-9][a-z0-9.-]*(/[a-z0-9][a-z0-9.-]*)*$~D', $type)) {
            throw new InvalidArgumentException(sprintf(
                'cannot derive a hurah event type from class "%s"; give one explicitly (#[Queued(eventType: ...)] or $eventType)',
                $class
            ));
        }
        return $type;
    }

    /**
     * `App\Listener\SendWelcomeMail` + `__invoke` -> `app.listener.send-welcome-mail`;
     * with method `onCreated` -> `app.listener.send-welcome-mail.on-created`.
     *
     * @throws InvalidArgumentException when no valid handler name results
     */
    public static function handlerName(string $serviceId, string $method = '__invoke'): string
    {
        $parts = preg_split('~[\\\\/:]+~', trim($serviceId, '\\/:'));
        if ($method !== '__invoke') {
            $parts[] = $method;
        }
        $name = implode('.', array_map([self::class, 'kebab'], $parts));
        $name = preg_replace('~[^a-z0-9_.-]+~', '-', $name);
        $name = ltrim($name, '_.-');
        if ($name === '' || !preg_match('~^[A-Za-z0-9][A-Za-z0-9_.-]*$~D', $name)) {
            throw new InvalidArgumentException(sprintf(
                'cannot derive a hurah handler name from service "%s"; give one explicitly (#[Queued(handlerName: ...)] or $handlerName)',
                $serviceId
            ));
        }
        return $name;
    }

    private static function kebab(string $s): string
    {
        $s = preg_replace('~([A-Z]+)([A-Z][a-z])~', '$1-$2', $s);
        $s = preg_replace('~([a-z0-9])([A-Z])~', '$1-$2', $s);
        return strtolower(str_replace('_', '-', $s));
    }
}

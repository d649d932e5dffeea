<?php
declare(strict_types=1);

namespace Hurah\Tests\Compat;

/**
 * A stand-in for hurah/events v1.0.26 itself, for mixed-deployment tests: its dispatcher
 * (FileStructureHelper + DeliveryService) and its worker loop (AbstractHandler::handle() and
 * Task::retry()), doing exactly what the behaviour reference documents, with plain
 * file_put_contents() and rename() as the original. Only the parts the tests exercise.
 */
final class OriginalLibrary
{
    /** Path::make(): joins with '/', dropping every empty() segment ('' and '0'). */
    public static function join(string ...$parts): string
    {
        $keep = array_values(array_filter($parts, static fn (string $p) => !empty($p)));
        return implode('/', $keep);
    }

    /** getDeliveryPoints(): root/<all segments>, then one per pop(), down to the root. */
    public static function deliveryPoints(string $root, array $segments): array
    {
        $points = [self::join($root, ...$segments)];
        while ($segments) {
            array_pop($segments);
            $points[] = self::join($root, ...$segments);
        }
        return $points;
    }

    /**
     * Dispatcher::dispatch(): for every delivery point, makeDir() it, then deliver to each
     * immediate subdirectory matching /_listener$/ (readdir order). Returns the task files
     * written, in order.
     */
    public static function dispatch(string $root, array $segments, $payload): array
    {
        $written = [];
        foreach (self::deliveryPoints($root, $segments) as $point) {
            if (!is_dir($point)) {
                mkdir($point, 0777, true);
            }
            foreach (scandir($point, SCANDIR_SORT_NONE) as $entry) {
                $dir = "$point/$entry";
                if ($entry !== '.' && $entry !== '..' && is_dir($dir) && preg_match('/_listener$/', $dir)) {
                    $written[] = self::deliver($dir, $payload);
                }
            }
        }
        return $written;
    }

    /** DeliveryService: load or create tracking.json, ++sequence/count, write the inbox file, rewrite tracking. */
    public static function deliver(string $listenerDir, $payload): string
    {
        $trackingFile = "$listenerDir/tracking.json";
        $now = (new \DateTime())->format('c');
        if (!is_file($trackingFile)) {
            file_put_contents($trackingFile, json_encode(['sequence' => 0, 'count' => 0, 'first' => $now, 'last' => $now]));
        }
        $tracking = json_decode(file_get_contents($trackingFile), true);
        $tracking['sequence']++;
        $tracking['count']++;
        $tracking['last'] = $now;
        $data = ['payload' => $payload, 'sequence' => $tracking['sequence'], 'count' => $tracking['count'], 'delivery' => $now];
        if (!is_dir("$listenerDir/inbox")) {
            mkdir("$listenerDir/inbox", 0777, true);
        }
        $file = "$listenerDir/inbox/{$tracking['sequence']}.json";
        file_put_contents($file, json_encode($data));
        file_put_contents($trackingFile, json_encode($tracking));
        return $file;
    }

    /**
     * AbstractHandler::handle() for one listener directory: every inbox entry whose full path
     * matches '/[0-9]+.json$/', in readdir order; $handleTask gets the decoded task (what
     * Context::fromPath() holds) and returns a Task status. Returns how many tasks it ran.
     */
    public static function handle(string $listenerDir, callable $handleTask, int $maxAttempts): int
    {
        $runs = 0;
        $inbox = "$listenerDir/inbox";
        foreach (is_dir($inbox) ? scandir($inbox, SCANDIR_SORT_NONE) : [] as $entry) {
            $path = "$inbox/$entry";
            if (!preg_match('/[0-9]+.json$/', $path)) {
                continue;
            }
            $data = json_decode(file_get_contents($path), true);
            $runs++;
            $status = $handleTask($data);
            if ($status == 0) {
                self::move($path, "$listenerDir/archive");
            } elseif ($status === 3 || $status === 1) {
                self::move($path, "$listenerDir/error");
            } elseif ($status === 2) {
                // Task::retry($maxAttempts): re-read, count, error/ past the limit, then write
                // retry_count wherever the file now is.
                $data = json_decode(file_get_contents($path), true);
                $retry = ($data['retry_count'] ?? 0) + 1;
                if ($retry > $maxAttempts) {
                    $path = self::move($path, "$listenerDir/error");
                }
                $data['retry_count'] = $retry;
                file_put_contents($path, json_encode($data));
            }
        }
        return $runs;
    }

    private static function move(string $path, string $dir): string
    {
        if (!is_dir($dir)) {
            mkdir($dir, 0777, true);
        }
        $to = $dir . '/' . basename($path);
        rename($path, $to);
        return $to;
    }
}

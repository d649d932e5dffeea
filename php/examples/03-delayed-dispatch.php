<?php
/**
 * Delayed dispatch: a task that becomes due later (reminders, "send the survey tomorrow").
 *
 * The PHP Dispatcher has no delay option yet (dispatch($type, $data) only), so the delayed
 * task is dispatched with the CLI, `hurah dispatch --delay`; it waits in delayed/<due>-<seq>.json
 * and a watching PHP worker runs it when it is due, without polling. From PHP, delays exist
 * today as retry backoff: a handler's retryDelay() (see the README).
 *
 *     php -d extension=build/hurah.so php/examples/03-delayed-dispatch.php
 */
declare(strict_types=1);

require __DIR__ . '/bootstrap.php';

use Hurah\Event\AbstractHandler;
use Hurah\Event\ContextInterface;
use Hurah\Event\Task;

final class ReminderHandler extends AbstractHandler
{
    public ?float $ranAt = null;

    protected function handleTask(ContextInterface $task): int
    {
        $this->ranAt = microtime(true);
        echo '   reminder for ' . $task->getPayload()['user'] . "\n";
        return Task::SUCCESS;
    }
}

$cli = example_cli();
if ($cli === null) {
    fwrite(STDERR, "FAILED: the hurah CLI is needed (make cli, or set HURAH_CLI)\n");
    exit(1);
}
$root = example_root('delayed');
$handler = new ReminderHandler('reminder', 'user/signed-up', $root);

$delay = 1.0;
$dispatchedAt = microtime(true);
exec(sprintf('%s dispatch --fsync never --delay %s %s user/signed-up %s 2>&1', escapeshellarg($cli), $delay, escapeshellarg($root), escapeshellarg('{"user":"ada"}')), $out, $rc);
example_check($rc === 0, 'hurah dispatch --delay 1 user/signed-up');

$listener = "$root/user/signed-up/reminder_listener";
example_check(count(glob("$listener/delayed/*.json")) === 1 && example_files($listener, 'inbox') === [], 'the task waits in delayed/, not inbox/');
exec(sprintf('%s delayed list %s', escapeshellarg($cli), escapeshellarg($root)), $list);
echo '   ' . implode("\n   ", $list) . "\n";

$handler->handle();
example_check($handler->ranAt === null, 'handle() right away does not run it: it is not due');

// A worker sleeps until the task is due (maxTime only bounds this example).
$stats = $handler->watch(['maxJobs' => 1, 'maxTime' => 10]);
example_check($stats['succeeded'] === 1, 'the watching worker ran it');
example_check($handler->ranAt - $dispatchedAt >= $delay, sprintf('not before it was due (after %.2f s)', $handler->ranAt - $dispatchedAt));
echo "done\n";

<?php
/**
 * Delayed dispatch: a task that becomes due later (reminders, "send the survey tomorrow").
 *
 * `$dispatcher->dispatch($type, $data, delay: 1.0)` (or `delay: new DateInterval('PT5M')`,
 * `at: new DateTimeImmutable('tomorrow 08:00')`) writes the task to delayed/<due>-<seq>.json;
 * a watching worker runs it when it is due, without polling. The CLI does the same from a
 * shell: `hurah dispatch --delay 1 <root> <type> '{...}'`, and `hurah delayed list` shows them.
 *
 *     php -d extension=build/hurah.so php/examples/03-delayed-dispatch.php
 */
declare(strict_types=1);

require __DIR__ . '/bootstrap.php';

use Hurah\Event\AbstractHandler;
use Hurah\Event\ContextInterface;
use Hurah\Event\Dispatcher;
use Hurah\Event\Task;

final class ReminderHandler extends AbstractHandler
{
    /** @var array<string, float> user => when it ran */
    public array $ranAt = [];

    protected function handleTask(ContextInterface $task): int
    {
        $user = $task->getPayload()['user'];
        $this->ranAt[$user] = microtime(true);
        echo "   reminder for $user\n";
        return Task::SUCCESS;
    }
}

$root = example_root('delayed');
$handler = new ReminderHandler('reminder', 'user/signed-up', $root);
$listener = "$root/user/signed-up/reminder_listener";
$delay = 1.0;

$dispatchedAt = microtime(true);
(new Dispatcher($root))->dispatch('user/signed-up', ['user' => 'ada'], delay: $delay);
$expected = 1;

$cli = example_cli();
if ($cli !== null) {
    exec(sprintf('%s dispatch --fsync never --delay %s %s user/signed-up %s 2>&1', escapeshellarg($cli), $delay, escapeshellarg($root), escapeshellarg('{"user":"grace"}')), $out, $rc);
    example_check($rc === 0, 'hurah dispatch --delay 1 (the CLI)');
    $expected = 2;
}

example_check(count(glob("$listener/delayed/*.json")) === $expected && example_files($listener, 'inbox') === [], 'the tasks wait in delayed/, not inbox/');
if ($cli !== null) {
    exec(sprintf('%s delayed list %s', escapeshellarg($cli), escapeshellarg($root)), $list);
    echo '   ' . implode("\n   ", $list) . "\n";
}

$handler->handle();
example_check($handler->ranAt === [], 'handle() right away runs nothing: not due yet');

// A worker sleeps until the tasks are due (maxTime only bounds this example).
$stats = $handler->watch(['maxJobs' => $expected, 'maxTime' => 10]);
example_check($stats['succeeded'] === $expected, "the watching worker ran $expected task(s)");
foreach ($handler->ranAt as $user => $t) {
    example_check($t - $dispatchedAt >= $delay, sprintf('%s: not before it was due (after %.2f s)', $user, $t - $dispatchedAt));
}
echo "done\n";

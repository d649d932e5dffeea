<?php
/**
 * Failed tasks: a handler fails (an outage), the task lands in error/ with the reason stored
 * in the file; once the cause is fixed an operator lists and retries it with the CLI:
 *
 *     hurah failed list  <root>
 *     hurah failed retry <root> --listener invoice/paid:ledger --all
 *
 * and the next run handles it.
 *
 *     php -d extension=build/hurah.so php/examples/04-failed-task-retry.php
 */
declare(strict_types=1);

require __DIR__ . '/bootstrap.php';

use Hurah\Event\AbstractHandler;
use Hurah\Event\ContextInterface;
use Hurah\Event\Task;

final class LedgerHandler extends AbstractHandler
{
    public bool $ledgerIsUp = false;
    public array $booked = [];

    protected function handleTask(ContextInterface $task): int
    {
        if (!$this->ledgerIsUp) {
            $this->addFailureInfo('ledger API answered 503');
            return Task::FAILURE;
        }
        $this->booked[] = $task->getPayload()['invoice'];
        return Task::SUCCESS;
    }

    public function getLogger(): Psr\Log\LoggerInterface
    {
        return new Psr\Log\NullLogger(); // keep the example's output short
    }
}

$cli = example_cli();
if ($cli === null) {
    fwrite(STDERR, "FAILED: the hurah CLI is needed (make cli, or set HURAH_CLI)\n");
    exit(1);
}
$hurah = static function (string $args) use ($cli): array {
    exec(escapeshellarg($cli) . " $args 2>&1", $out, $rc);
    return [$rc, implode("\n", $out)];
};

$root = example_root('failed');
$handler = new LedgerHandler('ledger', 'invoice/paid', $root);
$dispatcher = new Hurah\Event\Dispatcher($root);
$dispatcher->dispatch('invoice/paid', ['invoice' => 'INV-1']);
$dispatcher->dispatch('invoice/paid', ['invoice' => 'INV-2']);

$handler->handle(); // the ledger is down: both fail
$listener = "$root/invoice/paid/ledger_listener";
example_check(example_files($listener, 'error') === ['1.json', '2.json'], 'both tasks failed into error/');

[$rc, $out] = $hurah('failed list --json ' . escapeshellarg($root));
$failed = json_decode($out, true);
example_check($rc === 0 && is_array($failed) && count($failed) === 2, 'hurah failed list --json shows 2 failed tasks');
echo "   " . str_replace("\n", "\n   ", $hurah('failed list ' . escapeshellarg($root))[1]) . "\n";

$handler->ledgerIsUp = true; // the outage is over

[$rc, $out] = $hurah('failed retry --fsync never --listener invoice/paid:ledger --all ' . escapeshellarg($root));
echo "   " . str_replace("\n", "\n   ", $out) . "\n";
example_check($rc === 0 && example_files($listener, 'inbox') === ['1.json', '2.json'], 'hurah failed retry --all moved them back to inbox/');

$handler->handle();
example_check($handler->booked === ['INV-1', 'INV-2'], 'the next run booked both invoices');
example_check(example_files($listener, 'archive') === ['1.json', '2.json'] && example_files($listener, 'error') === [], 'archive/ has both, error/ is empty');
echo "done\n";

<?php
/**
 * The original hurah/events README flow, as it runs on hurah: register a handler, dispatch
 * `product/created` from anywhere, run the handler (handle(): everything due, once).
 * Then the same with the original object forms (EventType, Context) and worker:runner.
 *
 *     php -d extension=build/hurah.so php/examples/01-readme-flow.php
 */
declare(strict_types=1);

require __DIR__ . '/bootstrap.php';

use Hurah\Event\AbstractHandler;
use Hurah\Event\Context;
use Hurah\Event\ContextInterface;
use Hurah\Event\Dispatcher;
use Hurah\Event\EventType;
use Hurah\Event\Task;

final class ProductCreatedHandler extends AbstractHandler
{
    /** @var list<int> product ids handled */
    public array $handled = [];

    protected function handleTask(ContextInterface $task): int
    {
        $data = $task->getPayload();            // ['product_id' => 123]
        if (!isset($data['product_id'])) {
            return Task::INVALID;               // error/, with the reason stored in the file
        }
        $this->handled[] = $data['product_id'];
        return Task::SUCCESS;                   // archive/
    }
}

$root = example_root('readme');

// 1. Constructing a handler registers its listener: <root>/product/product_created_handler_listener/
$handler = new ProductCreatedHandler('product_created_handler', 'product', $root);

// 2. Wherever work needs to be delegated:
$dispatcher = new Dispatcher($root);
$dispatcher->dispatch('product/created', ['product_id' => 123]);
// the original's object forms still work:
$dispatcher->dispatch(EventType::fromString('product/created'), new Context(['product_id' => 124]));
$dispatcher->dispatch('product/created', ['sku' => 'no id']);

$listener = "$root/product/product_created_handler_listener";
example_check(example_files($listener, 'inbox') === ['1.json', '2.json', '3.json'], 'three tasks wait in inbox/');

// 3. Run the handler: every due task, in sequence order, then return (cron, worker:runner).
$handler->handle();
example_check($handler->handled === [123, 124], 'handled product 123 and 124, in order');
example_check(example_files($listener, 'archive') === ['1.json', '2.json'], 'tasks 1 and 2 are in archive/');
example_check(example_files($listener, 'error') === ['3.json'], 'task 3 (no product_id) is in error/');
$error = json_decode(file_get_contents("$listener/error/3.json"), true);
echo "   error/3.json: " . json_encode($error['error'] ?? null) . "\n";

// 4. The original's CLI entry point, for cron or a process manager:
//    php bin/application.php worker:runner product_created_handler product 'App\ProductCreatedHandler' /var/lib/events
//    (bin/worker-runner is the same without the command name; add --watch for a long-running worker)
echo "done\n";

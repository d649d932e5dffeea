<?php
// PHP side of the benchmark: dispatch N events to K listeners, then handle() N tasks with a
// no-op handler. Prints `key value` lines (µs per event) like bench_limit.
// Usage: php -d extension=build/hurah.so bench/php_bench.php <dir> <n> <listeners> <always|never>
use Hurah\Event\AbstractHandler;
use Hurah\Event\ContextInterface;
use Hurah\Event\Dispatcher;
use Hurah\Event\Task;

final class NoopHandler extends AbstractHandler
{
    protected function handleTask(ContextInterface $c): int
    {
        return Task::SUCCESS;
    }
}

[$_, $dir, $n, $k, $fsync] = $argv + [null, null, 10000, 1, 'never'];
$n = (int)$n;
$k = (int)$k;
$root = "$dir/php";
exec('rm -rf ' . escapeshellarg($root));
$names = ['image_scaler', 'translation', 'price_calculator'];
$types = ['product/stored', 'product/stored', 'product'];
$handlers = [];
for ($i = 0; $i < $k; $i++) {
    $handlers[] = new NoopHandler($names[$i], $types[$i], $root);
}
usleep(150000); // let listener listings settle (the dispatcher caches them after 100 ms)
$d = new Dispatcher($root, ['fsync' => $fsync]);
$t = hrtime(true);
for ($i = 0; $i < $n; $i++) {
    $d->dispatch('product/stored', ['product_id' => $i, 'name' => 'benchmark']);
}
printf("php_dispatch %.3f\n", (hrtime(true) - $t) / 1e3 / $n);
$t = hrtime(true);
$handlers[0]->handle();
printf("php_handle %.3f\n", (hrtime(true) - $t) / 1e3 / $n);
exec('rm -rf ' . escapeshellarg($root));

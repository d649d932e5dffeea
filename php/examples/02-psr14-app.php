<?php
/**
 * A PSR-14 application with one synchronous and one queued listener.
 *
 * The emitter does not know or care which listeners run later: the listener decides
 * (#[Queued] on its class). The provider hands the dispatcher a wrapper that only writes the
 * event into hurah as JSON; a worker (here in the same script, normally worker.php under
 * systemd/supervisor) rebuilds the event and calls the real listener from the container.
 *
 *     php -d extension=build/hurah.so php/examples/02-psr14-app.php
 */
declare(strict_types=1);

require __DIR__ . '/bootstrap.php';

use Hurah\Examples\TinyContainer;
use Hurah\Examples\TinyEventDispatcher;
use Hurah\Psr14\ListenerProvider;
use Hurah\Psr14\Queued;

// An event: immutable, JsonSerializable, rebuilt from its constructor parameters by name.
final class ProductCreated implements JsonSerializable
{
    public function __construct(public readonly int $productId, public readonly string $name)
    {
    }

    public function jsonSerialize(): array
    {
        return ['productId' => $this->productId, 'name' => $this->name];
    }
}

// Fast and needed right now: synchronous.
final class AuditLog
{
    public array $lines = [];

    public function __invoke(ProductCreated $e): void
    {
        $this->lines[] = "created #{$e->productId}";
    }
}

// Slow (mail, HTTP, image work): runs later in a worker, with up to 2 retries if it throws.
#[Queued(handlerName: 'welcome-mail', maxAttempts: 2)]
final class SendProductMail
{
    public array $sent = [];

    public function __invoke(ProductCreated $e): void
    {
        $this->sent[] = "mail about {$e->name} (#{$e->productId})";
    }
}

$root = example_root('psr14');
$container = new TinyContainer([
    AuditLog::class => fn () => new AuditLog(),
    SendProductMail::class => fn () => new SendProductMail(),
]);

// The same registrations serve both sides (put them in config/listeners.php).
$provider = new ListenerProvider($root, $container);
$provider->addListenerService(ProductCreated::class, AuditLog::class);         // no marker: sync
$provider->addListenerService(ProductCreated::class, SendProductMail::class);  // #[Queued]: queued

// --- the application (web request): dispatch as with any PSR-14 dispatcher ---
$events = new TinyEventDispatcher($provider);
$events->dispatch(new ProductCreated(1, 'Lamp'));
$events->dispatch(new ProductCreated(2, 'Chair'));

example_check($container->get(AuditLog::class)->lines === ['created #1', 'created #2'], 'the sync listener ran during dispatch()');
example_check($container->get(SendProductMail::class)->sent === [], 'the queued listener did not run during dispatch()');
$listener = "$root/product-created/welcome-mail_listener";
example_check(example_files($listener, 'inbox') === ['1.json', '2.json'], 'two tasks wait in product-created/welcome-mail_listener/inbox/');
$task = json_decode(file_get_contents("$listener/inbox/1.json"), true);
echo '   task payload: ' . json_encode($task['payload'], JSON_UNESCAPED_SLASHES) . "\n";

// --- the worker (worker.php): every queued listener in one process ---
$stats = $provider->createWorker($container)->run(['stopWhenEmpty' => true]);
example_check($stats['succeeded'] === 2, 'the worker handled both tasks');
example_check(
    $container->get(SendProductMail::class)->sent === ['mail about Lamp (#1)', 'mail about Chair (#2)'],
    'the queued listener got the rebuilt events, in order'
);
example_check(example_files($listener, 'archive') === ['1.json', '2.json'], 'both tasks are in archive/');
echo "done\n";

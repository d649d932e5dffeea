<?php
/**
 * A worker for contrib/systemd/hurah-worker@.service and contrib/supervisor/hurah-worker.conf.
 * Copy it to your application's root as worker.php and build your handlers where marked.
 *
 * It runs every handler in one process, sleeping on inotify until tasks arrive, and returns
 * (exit 0) after an hour, 10000 tasks, 128 MB of PHP memory, or SIGTERM/SIGINT (after the
 * running task). systemd/supervisor then start a fresh process.
 */
declare(strict_types=1);

require __DIR__ . '/vendor/autoload.php';

$root = getenv('HURAH_ROOT') ?: '/var/lib/events';
$worker = new Hurah\Event\Worker();

// --- your handlers -------------------------------------------------------------------
// $worker->add(new App\Handler\ImageScaler('image_scaler', 'product/stored', $root));
// $worker->add(new App\Handler\Mailer('mailer', 'user/registered', $root));
//
// PSR-14 queued listeners (see Hurah\Psr14\ListenerProvider):
// $provider = require __DIR__ . '/config/listeners.php';
// foreach ($provider->createHandlers($container, $logger) as $h) { $worker->add($h); }
// --------------------------------------------------------------------------------------

$stats = $worker->run([
    'maxTime' => 3600,
    'maxJobs' => 10000,
    'memoryLimit' => '128M',
]);
fwrite(STDERR, sprintf(
    "hurah worker %s: %d handled (%d succeeded, %d failed, %d retried, %d recovered)\n",
    getenv('HURAH_WORKER_INSTANCE') ?: '',
    $stats['handled'],
    $stats['succeeded'],
    $stats['failed'],
    $stats['retried'],
    $stats['recovered']
));

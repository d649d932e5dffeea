<?php
require __DIR__ . '/handlers.php';

$root = $argv[1];
$thumbs = new Thumbnailer('thumbnailer', 'product/stored', $root);
$audit = new Auditor('audit', '', $root);

// 3 product/stored events reach both handlers, 1 order/paid event only the auditor: 7 tasks.
$stats = (new Hurah\Event\Worker())->add($thumbs)->add($audit)->run([
    'maxJobs' => 7,
    'maxTime' => 30,
]);
printf("worker: done, %s\n", json_encode($stats));

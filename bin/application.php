#!/usr/bin/env php
<?php
/**
 * The original hurah/events entry point:
 *
 *     php bin/application.php worker:runner <handler_name> <event_type> <handler FQCN> <event_root>
 *
 * Same command, same argument order, without Symfony Console; options as bin/worker-runner
 * (--watch, --max-jobs, --max-time, --memory-limit, ...). Exit status: 0 done, 64 usage
 * error, 1 failure.
 */
declare(strict_types=1);

if (PHP_SAPI !== 'cli') {
    fwrite(STDERR, "application.php must be run from the command line\n");
    exit(1);
}
require_once __DIR__ . '/../php/lib/autoload.php';
require_once __DIR__ . '/../php/lib/Console/WorkerRunner.php';

exit((new Hurah\Console\WorkerRunner(STDOUT, STDERR, __DIR__, 'application.php'))->run($_SERVER['argv'], commandRequired: true));

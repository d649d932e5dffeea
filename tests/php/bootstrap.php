<?php
declare(strict_types=1);

// The suite runs against build/hurah.so, loaded through tests/php/ini/hurah.ini
// (PHP_INI_SCAN_DIR=:tests/php/ini HURAH_EXT=build/hurah.so, see `make test-php`).
if (!extension_loaded('hurah')) {
    fwrite(STDERR, "The hurah extension is not loaded. Run `make test-php` (it sets PHP_INI_SCAN_DIR and HURAH_EXT).\n");
    exit(1);
}

require __DIR__ . '/support/HurahTestCase.php';
require __DIR__ . '/support/Handlers.php';

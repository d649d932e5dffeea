<?php
declare(strict_types=1);

// The compatibility suite: hurah/events-style user code on the extension, with hurah/data-types
// "installed" (the stand-in in stand-in/, registered first, as Composer would). It runs in its
// own PHPUnit process (Compat/phpunit.xml) because which classes the extension picks depends
// on data-types being there; the main suite runs without it.
if (!extension_loaded('hurah')) {
    fwrite(STDERR, "The hurah extension is not loaded. Run `make test-php` (it sets PHP_INI_SCAN_DIR and HURAH_EXT).\n");
    exit(1);
}
require __DIR__ . '/user/autoload.php';
require __DIR__ . '/../support/HurahTestCase.php';
require __DIR__ . '/original/OriginalLibrary.php';

<?php

namespace App;

/** Test output of the runner's child process: lines appended to $HURAH_TEST_OUT/out.log. */
class Out
{
    public static function line($text)
    {
        $dir = getenv('HURAH_TEST_OUT');
        if ($dir) {
            file_put_contents("$dir/out.log", $text . "\n", FILE_APPEND);
        }
    }
}

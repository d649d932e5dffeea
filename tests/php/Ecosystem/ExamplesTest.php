<?php
declare(strict_types=1);

namespace Hurah\Tests\Ecosystem;

use PHPUnit\Framework\TestCase;

require_once __DIR__ . '/Support/support.php';

/** Every php/examples/NN-*.php runs non-interactively with the extension and exits 0. */
final class ExamplesTest extends TestCase
{
    public static function examples(): array
    {
        $out = [];
        foreach (glob(REPO . '/php/examples/[0-9][0-9]-*.php') as $f) {
            $out[basename($f)] = [$f];
        }
        return $out;
    }

    public function testThereAreExamples(): void
    {
        $this->assertGreaterThanOrEqual(4, count(self::examples()));
    }

    /** @dataProvider examples */
    public function testExampleRuns(string $file): void
    {
        if (str_contains(file_get_contents($file), 'the hurah CLI is needed') && !is_executable(REPO . '/build/hurah') && getenv('HURAH_CLI') === false) {
            $this->markTestSkipped('needs the hurah CLI: make cli');
        }
        [$rc, $out, $err] = run([PHP_BINARY, $file], sys_get_temp_dir(), ['HURAH_LOG_LEVEL' => 'warning'], 60);
        $this->assertSame(0, $rc, "stdout:\n$out\nstderr:\n$err");
        $this->assertStringNotContainsString('FAILED: ', $out . $err);
        $this->assertStringEndsWith("done\n", $out);
    }
}

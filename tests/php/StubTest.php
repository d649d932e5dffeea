<?php
declare(strict_types=1);

namespace Hurah\Tests;

require_once __DIR__ . '/support/Describe.php';

/** php/stubs/hurah.stub.php must declare exactly what the extension provides. */
final class StubTest extends HurahTestCase
{
    private const STUB = __DIR__ . '/../../php/stubs/hurah.stub.php';

    private static function extensionClasses(): array
    {
        $names = [];
        foreach ((new \ReflectionExtension('hurah'))->getClasses() as $c) {
            $names[$c->getName()] = true; // aliases map to the same class
        }
        // Declared in PHP by the extension on first use (php/compat/).
        foreach (['Hurah\\Event\\ContextInterface', 'Hurah\\Event\\AbstractContext', 'Hurah\\Event\\Context',
                  'Hurah\\Exception\\InvalidArgumentException', 'Hurah\\Exception\\NullPointerException'] as $c) {
            $names[$c] = true;
        }
        return array_keys($names);
    }

    public function testStubFileDeclaresExactlyTheExtensionsClassesAndSignatures(): void
    {
        $expected = describe_classes(self::extensionClasses());
        // Load the stub in a process WITHOUT the extension (-n: no ini files at all).
        $code = '<?php require ' . var_export(__DIR__ . '/support/Describe.php', true) . '; require ' . var_export(realpath(self::STUB), true) . ';'
            . '$names = array_filter(array_merge(get_declared_classes(), get_declared_interfaces()), fn($c) => str_starts_with($c, "Hurah\\\\"));'
            . 'echo json_encode(\Hurah\Tests\describe_classes($names));';
        $file = tempnam(sys_get_temp_dir(), 'stub');
        file_put_contents($file, $code);
        $json = shell_exec(escapeshellarg(PHP_BINARY) . ' -n -d error_reporting=0 ' . escapeshellarg($file));
        unlink($file);
        $this->assertIsString($json);
        $actual = json_decode($json, true);
        $this->assertIsArray($actual, (string) $json);
        $this->assertSame($expected, $actual);
    }

    public function testStubDeclaresTheAliases(): void
    {
        $text = file_get_contents(self::STUB);
        foreach (['Dispatcher', 'AbstractHandler', 'Context', 'Task'] as $short) {
            $this->assertStringContainsString("\\Hurah\\$short::class", $text);
            $this->assertTrue(class_exists("Hurah\\$short"));
        }
    }
}

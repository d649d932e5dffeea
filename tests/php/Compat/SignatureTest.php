<?php
declare(strict_types=1);

namespace Hurah\Tests\Compat;

use PHPUnit\Framework\TestCase;

/**
 * hurah/events' API (original/signatures.php) compared by Reflection with what the extension
 * declares. Contexts and HandlerInterface must match exactly (user code implements and extends
 * them); for the other classes every subclass valid against the original must be valid here
 * ("override") and every call valid against the original must be accepted ("call"), except
 * the differences listed in DOCUMENTED, each of which must really differ and be in
 * docs/MIGRATION.md.
 */
final class SignatureTest extends TestCase
{
    /** Classes whose declarations must be identical to the original's. */
    private const EXACT = [
        'Hurah\Event\ContextInterface',
        'Hurah\Event\AbstractContext',
        'Hurah\Event\Context',
        'Hurah\Event\HandlerInterface',
        'Hurah\Event\EventType',
        'Hurah\Event\Helper\HandlerName',
    ];

    /** "Class::member check" => why (the same text is in docs/MIGRATION.md). */
    private const DOCUMENTED = [
        'Hurah\Event\AbstractHandler::getQueue override' => 'returns an array of Context, not a TaskCollection',
        'Hurah\Event\AbstractHandler::getQueue call' => 'returns an array of Context, not a TaskCollection',
        'Hurah\Event\Dispatcher::dispatch override' => 'takes string|EventType and any data, returns the dispatch id',
        'Hurah\Event\Task::__construct call' => 'Task only holds the status constants',
        'Hurah\Event\Task::retry call' => 'Task only holds the status constants',
        'Hurah\Event\Task::getPath call' => 'Task only holds the status constants',
        'Hurah\Event\Task::getContext call' => 'Task only holds the status constants',
        'Hurah\Event\Task::finish call' => 'Task only holds the status constants',
        'Hurah\Event\Task::error call' => 'Task only holds the status constants',
    ];

    private static function original(): array
    {
        return require __DIR__ . '/original/signatures.php';
    }

    /** A method as the original's data writes it. */
    public static function describe(\ReflectionMethod $m): string
    {
        $ps = [];
        foreach ($m->getParameters() as $p) {
            $ps[] = ($p->getType() ? $p->getType() . ' ' : '') . ($p->isVariadic() ? '...' : '') . '$' . $p->getName()
                . ($p->isOptional() && !$p->isVariadic() ? ' = ' . var_export($p->isDefaultValueAvailable() ? $p->getDefaultValue() : null, true) : '');
        }
        return implode(' ', \Reflection::getModifierNames($m->getModifiers())) . ' function ' . $m->getName()
            . '(' . implode(', ', $ps) . ')' . ($m->hasReturnType() ? ': ' . $m->getReturnType() : '');
    }

    public function testContextsAndHandlerInterfaceAreDeclaredExactlyAsTheOriginal(): void
    {
        foreach (self::EXACT as $class) {
            $spec = self::original()[$class];
            $this->assertTrue(class_exists($class) || interface_exists($class), $class);
            $rc = new \ReflectionClass($class);
            $kind = $rc->isInterface() ? 'interface' : ($rc->isAbstract() ? 'abstract class' : 'class');
            $this->assertSame($spec['kind'], $kind, $class);
            $this->assertFalse($rc->isFinal(), $class);
            if (isset($spec['extends'])) {
                $this->assertSame($spec['extends'], $rc->getParentClass()->getName(), $class);
            }
            foreach ($spec['implements'] ?? [] as $i) {
                $this->assertTrue($rc->implementsInterface($i), "$class implements $i");
            }
            foreach ($spec['methods'] as $name => $signature) {
                $this->assertTrue($rc->hasMethod($name), "$class::$name");
                $this->assertSame($signature, self::describe($rc->getMethod($name)), "$class::$name");
            }
            foreach ($spec['properties'] ?? [] as $name => $decl) {
                $this->assertTrue($rc->hasProperty($name), "$class::\$$name");
                $p = $rc->getProperty($name);
                $this->assertSame($decl, implode(' ', \Reflection::getModifierNames($p->getModifiers())) . ' ' . $p->getType() . ' $' . $name, "$class::\$$name");
                $this->assertFalse($p->hasDefaultValue() && $p->getDefaultValue() !== null, "$class::\$$name starts uninitialized");
            }
            foreach ($spec['constants'] ?? [] as $name => $value) {
                $this->assertSame($value, $rc->getConstant($name), "$class::$name");
            }
        }
    }

    /** @return array{0: string, 1: string[]} [return type, param types] of an original signature string */
    private static function parse(string $sig): array
    {
        preg_match('/\((.*)\)(?:: (.+))?$/', $sig, $m);
        $params = [];
        foreach (array_filter(explode(', ', $m[1])) as $p) {
            $params[] = [str_contains($p, ' $') || str_contains($p, ' ...$') ? substr($p, 0, strrpos($p, ' ')) : '', str_contains($p, '...'), str_contains($p, ' = ')];
        }
        return [$m[2] ?? '', $params];
    }

    /** Is every value of type $a a value of type $b? '' is "no type" (anything). */
    private static function sub(string $a, string $b): bool
    {
        if ($b === '' || $b === 'mixed' || $a === $b) {
            return true;
        }
        if ($a === '' || $a === 'mixed') {
            return false;
        }
        return (class_exists($a) || interface_exists($a)) && is_a($a, $b, true);
    }

    /** The problems of $ours against the original method $sig, per check ('override', 'call'). */
    private static function problems(string $class, string $name, string $sig, ?\ReflectionMethod $ours): array
    {
        $out = [];
        [$ret, $params] = self::parse($sig);
        $static = str_contains($sig, ' static ');
        $public = str_contains($sig, 'public ');
        $ctor = $name === '__construct';
        if ($ours === null || ($ours->isPrivate())) {
            if ($public && !str_starts_with($sig, 'abstract ')) { // abstract: the subclass defines it
                $out['call'] = 'missing';
            }
            return $out; // a subclass may declare it with any signature
        }
        $ourParams = [];
        foreach ($ours->getParameters() as $p) {
            $ourParams[] = [(string) $p->getType(), $p->isVariadic(), $p->isOptional()];
        }
        $ourRet = $ours->hasReturnType() ? (string) $ours->getReturnType() : '';
        $ourAt = static function (int $i) use ($ourParams): ?array {
            if (isset($ourParams[$i])) {
                return $ourParams[$i];
            }
            $last = end($ourParams);
            return $last && $last[1] ? $last : null;
        };
        // A subclass valid against the original, overriding this method.
        if (!$ctor || $ours->isAbstract()) {
            $o = [];
            if ($ours->isFinal()) {
                $o[] = 'final';
            }
            if ($ours->isStatic() !== $static) {
                $o[] = 'static differs';
            }
            if ($ours->isPublic() && !$public) {
                $o[] = 'public where the original is protected';
            }
            if ($ours->getNumberOfRequiredParameters() > count($params) || count($ourParams) > count($params) && !end($ourParams)[1]) {
                $o[] = 'more parameters';
            }
            foreach ($params as $i => [$type]) {
                $op = $ourAt($i);
                if ($op !== null && !self::sub($op[0], $type)) {
                    $o[] = "parameter $i: $op[0] is wider than " . ($type ?: 'no type');
                }
            }
            if ($ret === '' ? $ourRet !== '' : !($ourRet === '' || self::sub($ret, $ourRet))) {
                $o[] = "return type $ourRet instead of " . ($ret ?: 'none');
            }
            if ($o) {
                $out['override'] = implode('; ', $o);
            }
        }
        // A call valid against the original.
        if ($public) {
            $c = [];
            if (!$ours->isPublic() || $ours->isStatic() !== $static) {
                $c[] = 'not callable the same way';
            }
            if ($ours->getNumberOfRequiredParameters() > count($params)) {
                $c[] = 'more required parameters';
            }
            foreach ($params as $i => [$type]) {
                $op = $ourAt($i);
                if ($op === null) {
                    $c[] = "no parameter $i";
                } elseif (!self::sub($type, $op[0])) {
                    $c[] = "parameter $i: " . ($type ?: 'any value') . " not accepted by $op[0]";
                }
            }
            if (!$ctor && $ret !== '' && !($ourRet !== '' && self::sub($ourRet, $ret))) {
                $c[] = "returns " . ($ourRet ?: 'anything') . " where the original returns $ret";
            }
            if ($c) {
                $out['call'] = implode('; ', $c);
            }
        }
        return $out;
    }

    public function testEveryOriginalSubclassAndCallIsValidExceptTheDocumentedDifferences(): void
    {
        $found = [];
        foreach (self::original() as $class => $spec) {
            if (!empty($spec['absent']) || in_array($class, self::EXACT, true)) {
                continue;
            }
            $rc = new \ReflectionClass($class);
            $this->assertFalse($rc->isFinal(), $class);
            $this->assertSame($spec['kind'] === 'abstract class', $rc->isAbstract(), $class);
            foreach ($spec['constants'] ?? [] as $name => $value) {
                $this->assertSame($value, $rc->getConstant($name), "$class::$name");
            }
            foreach ($spec['methods'] as $name => $sig) {
                foreach (self::problems($class, $name, $sig, $rc->hasMethod($name) ? $rc->getMethod($name) : null) as $check => $why) {
                    $found["$class::$name $check"] = $why;
                }
            }
        }
        $undocumented = array_diff_key($found, self::DOCUMENTED);
        $this->assertSame([], $undocumented, 'differences from hurah/events that are neither fixed nor documented');
        $stale = array_diff_key(self::DOCUMENTED, $found);
        $this->assertSame([], $stale, 'documented differences that no longer exist');
    }

    public function testEveryDocumentedDifferenceIsInMigrationMd(): void
    {
        $doc = file_get_contents(__DIR__ . '/../../../docs/MIGRATION.md');
        foreach (array_keys(self::DOCUMENTED) as $key) {
            [$member] = explode(' ', $key);
            $short = substr($member, strrpos($member, '\\') + 1); // Task::retry
            $this->assertStringContainsString($short, $doc, $key);
        }
        foreach (self::original() as $class => $spec) {
            if (!empty($spec['absent'])) {
                $this->assertFalse(class_exists($class), $class);
                $this->assertStringContainsString(substr($class, strrpos($class, '\\') + 1), $doc, $class);
            }
        }
    }
}

<?php
declare(strict_types=1);

namespace Hurah\Tests;

/** A text description of every class, method, parameter and constant of the given classes. */
function describe_classes(array $names): array
{
    $out = [];
    foreach ($names as $name) {
        $c = new \ReflectionClass($name);
        $kind = $c->isInterface() ? 'interface' : ($c->isAbstract() ? 'abstract class' : 'class');
        $ifaces = $c->getInterfaceNames();
        sort($ifaces);
        $line = "$kind {$c->getName()}";
        if ($p = $c->getParentClass()) {
            $line .= ' extends ' . $p->getName();
        }
        $out[$c->getName()][] = $line . ' implements ' . implode(',', $ifaces);
        foreach ($c->getReflectionConstants() as $k) {
            if ($k->getDeclaringClass()->getName() === $c->getName()) {
                $out[$c->getName()][] = 'const ' . $k->getName() . ' = ' . var_export($k->getValue(), true);
            }
        }
        $methods = [];
        foreach ($c->getMethods() as $m) {
            if ($m->getDeclaringClass()->getName() !== $c->getName()) {
                continue;
            }
            $ps = [];
            foreach ($m->getParameters() as $p) {
                $ps[] = ($p->getType() ? $p->getType() . ' ' : '') . ($p->isVariadic() ? '...' : '') . '$' . $p->getName()
                    . ($p->isOptional() && !$p->isVariadic() ? ' = ' . var_export($p->isDefaultValueAvailable() ? $p->getDefaultValue() : null, true) : '');
            }
            $methods[] = implode(' ', \Reflection::getModifierNames($m->getModifiers())) . ' function ' . $m->getName()
                . '(' . implode(', ', $ps) . ')' . ($m->hasReturnType() ? ': ' . $m->getReturnType() : '');
        }
        sort($methods);
        array_push($out[$c->getName()], ...$methods);
    }
    ksort($out);
    return $out;
}


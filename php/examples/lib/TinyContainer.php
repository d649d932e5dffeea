<?php
declare(strict_types=1);

namespace Hurah\Examples;

use Psr\Container\ContainerInterface;
use Psr\Container\NotFoundExceptionInterface;

/** A PSR-11 container of factories; each service is built once. */
final class TinyContainer implements ContainerInterface
{
    private array $services = [];

    /** @param array<string, callable(self): object> $factories */
    public function __construct(private array $factories = [])
    {
    }

    public function set(string $id, callable $factory): void
    {
        $this->factories[$id] = $factory;
        unset($this->services[$id]);
    }

    public function get(string $id): mixed
    {
        if (!isset($this->factories[$id])) {
            throw new class ("service $id not found") extends \RuntimeException implements NotFoundExceptionInterface {
            };
        }
        return $this->services[$id] ??= ($this->factories[$id])($this);
    }

    public function has(string $id): bool
    {
        return isset($this->factories[$id]);
    }
}

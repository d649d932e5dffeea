<?php
declare(strict_types=1);

namespace Hurah\Console;

use Hurah\Event\AbstractHandler;
use Hurah\Event\EventType;
use Hurah\Event\HandlerInterface;
use Hurah\Event\Helper\HandlerName;
use ReflectionClass;
use ReflectionNamedType;
use ReflectionParameter;
use ReflectionUnionType;

/**
 * `worker:runner <handler_name> <event_type> <handler FQCN> <event_root>`, as hurah/events'
 * Commands\Runner, without Symfony Console: runs the handler's `handle()` once (process what is
 * due, return), or its `watch()` with `--watch` (long-running, inotify, for systemd/supervisor).
 *
 * Exit status: 0 done; 64 (EX_USAGE) bad arguments, unknown class, class that is not a
 * handler; 1 the extension is missing, the handler could not be built, or handle()/watch() threw.
 * Used by bin/worker-runner and bin/application.php.
 */
final class WorkerRunner
{
    public const OK = 0;
    public const FAILURE = 1;
    public const USAGE = 64;

    private const VALUE_OPTIONS = ['max-jobs', 'max-time', 'memory-limit', 'sleep', 'autoload'];
    private const FLAG_OPTIONS = ['watch', 'stop-when-empty', 'help', 'verbose', 'quiet', 'version', 'no-interaction', 'ansi', 'no-ansi'];
    private const SHORT = ['h' => 'help', 'v' => 'verbose', 'q' => 'quiet', 'V' => 'version', 'n' => 'no-interaction'];

    /** @var list<string> autoloaders loaded, for messages */
    private array $loaded = [];
    /** @var list<string> autoloaders looked for, for messages */
    private array $lookedFor = [];

    /**
     * @param resource $stdout
     * @param resource $stderr
     * @param string $scriptDir directory of the bin script (to find the vendor/ it is installed in)
     */
    public function __construct(
        private $stdout,
        private $stderr,
        private readonly string $scriptDir,
        private readonly string $program = 'worker-runner',
    ) {
    }

    public static function usage(string $program = 'worker-runner'): string
    {
        return <<<TXT
        Usage: $program [options] <handler_name> <event_type> <handler> <event_root>

        Runs a hurah handler (a class implementing Hurah\\Event\\HandlerInterface, usually a
        Hurah\\Event\\AbstractHandler subclass): handle() once (every due task, then exit), or
        watch() with --watch (runs until a limit or SIGTERM/SIGINT; for systemd/supervisor).

        Arguments:
          handler_name   the handler's name, e.g. image_scaler (listener dir <type>/<name>_listener/)
          event_type     e.g. product/stored
          handler        the handler class, e.g. 'App\\Handler\\ImageScaler'
          event_root     the event root directory (relative: to the current directory)

        Options:
          --watch              run watch() instead of handle()
          --max-jobs=N         with --watch: return after N tasks
          --max-time=SECS      with --watch: return after SECS seconds
          --memory-limit=SIZE  with --watch: return when PHP uses more (bytes, or 128M, 1G)
          --stop-when-empty    with --watch: return when nothing is due
          --sleep=SECS         with --watch: safety rescan interval (default 30)
          --autoload=FILE      the autoloader (or bootstrap) to require; default: the nearest
                               vendor/autoload.php above the current directory, then the one
                               this script is installed in (\$HURAH_AUTOLOAD also works)
          -v, --verbose        log debug lines too (HURAH_LOG_LEVEL=debug)
          -q, --quiet          log warnings and errors only (HURAH_LOG_LEVEL=warning)
          -h, --help           this help
          -V, --version        the extension's version
          -n, --no-interaction, --ansi, --no-ansi
                               accepted and ignored (Symfony Console's standard options,
                               which hurah/events' worker:runner took; this command never
                               asks questions nor colours its output)

        Exit status: 0 done, 64 usage error (bad arguments, unknown class, not a handler),
        1 failure (extension not loaded, handler constructor or handle()/watch() threw).
        TXT;
    }

    /** @param list<string> $argv as $_SERVER['argv']; a leading "worker:runner" command is accepted */
    public function run(array $argv, bool $commandRequired = false): int
    {
        array_shift($argv);
        if ($commandRequired || ($argv[0] ?? null) === 'worker:runner') {
            $command = array_shift($argv);
            if ($command === null || $command === 'list' || $command === 'help' || $command === '--help' || $command === '-h') {
                $this->out("Hurah event handler\n\nAvailable commands:\n  worker:runner  Runs a handler (handle() once, or watch() with --watch)\n\n"
                    . self::usage($this->program . ' worker:runner') . "\n");
                return $command === null ? self::USAGE : self::OK;
            }
            if ($command !== 'worker:runner') {
                return $this->usageError("command \"$command\" is not defined; the command is worker:runner");
            }
        }

        try {
            [$opts, $args] = $this->parse($argv);
        } catch (\InvalidArgumentException $e) {
            return $this->usageError($e->getMessage());
        }
        if (isset($opts['help'])) {
            $this->out(self::usage($this->program) . "\n");
            return self::OK;
        }
        if (isset($opts['version'])) {
            $this->out('Hurah event handler ' . (phpversion('hurah') ?: '(extension not loaded)') . "\n");
            return self::OK;
        }
        if (count($args) !== 4) {
            return $this->usageError(sprintf(
                'expected 4 arguments (handler_name event_type handler event_root), got %d',
                count($args)
            ));
        }
        [$name, $type, $class, $root] = $args;
        $watch = isset($opts['watch']);
        try {
            $watchOptions = $this->watchOptions($opts, $watch);
        } catch (\InvalidArgumentException $e) {
            return $this->usageError($e->getMessage());
        }

        if (!extension_loaded('hurah')) {
            return $this->fail('the hurah extension is not loaded (php -d extension=/path/to/hurah.so, or install it: make install)');
        }
        if (isset($opts['verbose'])) {
            putenv('HURAH_LOG_LEVEL=debug');
        } elseif (isset($opts['quiet'])) {
            putenv('HURAH_LOG_LEVEL=warning');
        }

        try {
            $handlerName = new HandlerName($name);
            $eventType = EventType::fromString($type);
        } catch (\Hurah\Exception\InvalidArgumentException|\Hurah\Exception\NullPointerException $e) {
            return $this->usageError($e->getMessage());
        }
        if ($root === '') {
            return $this->usageError('event_root must not be empty');
        }

        $class = ltrim($class, '\\');
        $autoload = $opts['autoload'] ?? (getenv('HURAH_AUTOLOAD') ?: null);
        if ($autoload !== null && !is_file($autoload)) {
            return $this->usageError("autoloader $autoload does not exist");
        }
        if (!$this->loadClass($class, $autoload)) {
            if (interface_exists($class, false) || trait_exists($class, false)) {
                return $this->usageError("$class is not a class");
            }
            return $this->usageError(sprintf(
                'handler class %s not found (autoloaders loaded: %s; looked for: %s). Pass --autoload=FILE.',
                $class,
                $this->loaded ? implode(', ', $this->loaded) : 'none',
                implode(', ', $this->lookedFor)
            ));
        }

        // Check the class BEFORE building it: constructing a handler registers its listener
        // directory (the original built it first, then checked the interface).
        $rc = new ReflectionClass($class);
        if (!$rc->implementsInterface(HandlerInterface::class)) {
            return $this->usageError("$class does not implement Hurah\\Event\\HandlerInterface");
        }
        if (!$rc->isInstantiable()) {
            return $this->usageError("$class cannot be instantiated (abstract, or its constructor is not public)");
        }
        if ($watch && !$rc->isSubclassOf(AbstractHandler::class)) {
            return $this->usageError("--watch needs a Hurah\\Event\\AbstractHandler subclass; $class only implements HandlerInterface");
        }

        try {
            $handler = $rc->newInstanceArgs($this->constructorArgs($rc, $handlerName, $eventType, $root));
        } catch (\Throwable $e) {
            return $this->fail("could not construct $class: " . self::describe($e));
        }

        try {
            if ($watch) {
                $stats = $handler->watch($watchOptions ?: null);
                $this->err(sprintf(
                    "%s: %s stopped: %d handled (%d succeeded, %d failed, %d retried, %d recovered)\n",
                    $this->program,
                    $name,
                    $stats['handled'] ?? 0,
                    $stats['succeeded'] ?? 0,
                    $stats['failed'] ?? 0,
                    $stats['retried'] ?? 0,
                    $stats['recovered'] ?? 0
                ));
            } else {
                $handler->handle();
            }
        } catch (\Throwable $e) {
            return $this->fail($class . '::' . ($watch ? 'watch' : 'handle') . '() failed: ' . self::describe($e));
        }
        return self::OK;
    }

    /** @return array{0: array<string, string|true>, 1: list<string>} */
    private function parse(array $argv): array
    {
        $opts = [];
        $args = [];
        $n = count($argv);
        for ($i = 0; $i < $n; $i++) {
            $a = $argv[$i];
            if ($a === '--') {
                array_push($args, ...array_slice($argv, $i + 1));
                break;
            }
            if (str_starts_with($a, '--')) {
                [$key, $value] = str_contains($a, '=') ? explode('=', substr($a, 2), 2) : [substr($a, 2), null];
                if (in_array($key, self::FLAG_OPTIONS, true)) {
                    if ($value !== null) {
                        throw new \InvalidArgumentException("option --$key takes no value");
                    }
                    $opts[$key] = true;
                } elseif (in_array($key, self::VALUE_OPTIONS, true)) {
                    if ($value === null) {
                        if ($i + 1 >= $n) {
                            throw new \InvalidArgumentException("option --$key needs a value");
                        }
                        $value = $argv[++$i];
                    }
                    $opts[$key] = $value;
                } else {
                    throw new \InvalidArgumentException("unknown option --$key");
                }
            } elseif (strlen($a) > 1 && $a[0] === '-') {
                foreach (str_split(substr($a, 1)) as $c) {
                    if (!isset(self::SHORT[$c])) {
                        throw new \InvalidArgumentException("unknown option -$c");
                    }
                    $opts[self::SHORT[$c]] = true;
                }
            } else {
                $args[] = $a;
            }
        }
        return [$opts, $args];
    }

    private function watchOptions(array $opts, bool $watch): array
    {
        $out = [];
        foreach (['max-jobs' => 'maxJobs', 'max-time' => 'maxTime', 'memory-limit' => 'memoryLimit', 'sleep' => 'sleep', 'stop-when-empty' => 'stopWhenEmpty'] as $opt => $key) {
            if (!isset($opts[$opt])) {
                continue;
            }
            if (!$watch) {
                throw new \InvalidArgumentException("--$opt only applies with --watch");
            }
            $v = $opts[$opt];
            $out[$key] = match ($opt) {
                'max-jobs' => preg_match('/^[1-9][0-9]*$/D', $v) ? (int) $v
                    : throw new \InvalidArgumentException("--max-jobs must be a positive integer, got \"$v\""),
                'max-time', 'sleep' => is_numeric($v) && (float) $v > 0 ? (float) $v
                    : throw new \InvalidArgumentException("--$opt must be a positive number of seconds, got \"$v\""),
                'memory-limit' => preg_match('/^[1-9][0-9]*[KMG]?$/Di', $v) ? (ctype_digit($v) ? (int) $v : strtoupper($v))
                    : throw new \InvalidArgumentException("--memory-limit must be bytes or a size such as 128M, got \"$v\""),
                'stop-when-empty' => true,
            };
        }
        return $out;
    }

    /**
     * Makes $class available: an explicit autoloader, else the project's (walking up from the
     * current directory), else the one Composer's bin proxy names, else the vendor/ this script
     * is installed in. Stops at the first that defines the class.
     */
    private function loadClass(string $class, ?string $explicit): bool
    {
        if (class_exists($class)) {
            return true; // defined by a prepended file or an autoloader already registered
        }
        $candidates = [];
        if ($explicit !== null) {
            $candidates[] = $explicit;
        } else {
            $cwd = getcwd();
            if ($cwd !== false) {
                $candidates = array_merge($candidates, self::walkUp($cwd));
            }
            if (isset($GLOBALS['_composer_autoload_path']) && is_string($GLOBALS['_composer_autoload_path'])) {
                $candidates[] = $GLOBALS['_composer_autoload_path'];
            }
            $candidates = array_merge($candidates, self::walkUp($this->scriptDir));
        }
        foreach ($candidates as $file) {
            $real = realpath($file);
            if ($real === false) {
                if (!in_array($file, $this->lookedFor, true)) {
                    $this->lookedFor[] = $file;
                }
                continue;
            }
            if (in_array($real, $this->loaded, true)) {
                continue;
            }
            require_once $real;
            $this->loaded[] = $real;
            if (class_exists($class)) {
                return true;
            }
        }
        return false;
    }

    /** vendor/autoload.php of $dir and every directory above it (and $dir itself if it is a vendor/). */
    private static function walkUp(string $dir): array
    {
        $out = [];
        $dir = realpath($dir) ?: $dir;
        while (true) {
            if (basename($dir) === 'vendor' && is_file("$dir/autoload.php")) {
                $out[] = "$dir/autoload.php";
            }
            $out[] = rtrim($dir, '/') . '/vendor/autoload.php';
            $parent = dirname($dir);
            if ($parent === $dir) {
                return $out;
            }
            $dir = $parent;
        }
    }

    /**
     * The original passed (HandlerName, EventType, Path): pass the objects where the
     * constructor accepts them (AbstractHandler's does), strings where it wants strings. The
     * event root is a Hurah\Types\Type\Path (hurah/data-types', or the extension's stand-in
     * when data-types is not installed) where the parameter is typed to accept one, and for an
     * untyped parameter when data-types is installed (as the original); a string otherwise.
     */
    private function constructorArgs(ReflectionClass $rc, HandlerName $name, EventType $type, string $root): array
    {
        $params = $rc->getConstructor()?->getParameters() ?? [];
        return [
            self::argFor($params[0] ?? null, $name),
            self::argFor($params[1] ?? null, $type),
            self::rootFor($params[2] ?? null, $root),
        ];
    }

    private static function rootFor(?ReflectionParameter $p, string $root): object|string
    {
        if ($p === null || !class_exists(\Hurah\Types\Type\Path::class)) {
            return $root;
        }
        $path = new \Hurah\Types\Type\Path($root);
        $original = !$path instanceof \Hurah\Internal\StandIn; // hurah/data-types is installed
        $t = $p->getType();
        if ($t === null) {
            return $original ? $path : $root;
        }
        foreach ($t instanceof ReflectionUnionType ? $t->getTypes() : [$t] as $nt) {
            if (!$nt instanceof ReflectionNamedType) {
                continue;
            }
            $n = $nt->getName();
            if (!$nt->isBuiltin() && $path instanceof $n) {
                return $path; // declared to take a Path (or Stringable...)
            }
            if ($original && in_array($n, ['mixed', 'object'], true)) {
                return $path;
            }
        }
        return $root;
    }

    private static function argFor(?ReflectionParameter $p, object $value): object|string
    {
        $t = $p?->getType();
        if ($t === null) {
            return $value;
        }
        $types = $t instanceof ReflectionUnionType ? $t->getTypes() : [$t];
        foreach ($types as $nt) {
            if (!$nt instanceof ReflectionNamedType) {
                continue;
            }
            $n = $nt->getName();
            if (in_array($n, ['mixed', 'object'], true) || (!$nt->isBuiltin() && $value instanceof $n)) {
                return $value;
            }
        }
        return (string) $value;
    }

    private static function describe(\Throwable $e): string
    {
        return sprintf('%s: %s (%s:%d)', get_class($e), $e->getMessage(), $e->getFile(), $e->getLine());
    }

    private function usageError(string $message): int
    {
        $this->err("{$this->program}: $message\nRun '{$this->program} --help' for usage.\n");
        return self::USAGE;
    }

    private function fail(string $message): int
    {
        $this->err("{$this->program}: $message\n");
        return self::FAILURE;
    }

    private function out(string $s): void
    {
        fwrite($this->stdout, $s);
    }

    private function err(string $s): void
    {
        fwrite($this->stderr, $s);
    }
}

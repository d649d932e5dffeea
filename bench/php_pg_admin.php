<?php
// Database chores of bench/pg.sh, through PDO (pdo_pgsql):
//   create <admin-url> <db>        CREATE DATABASE; prints the database's URL
//   drop <admin-url> <db>          DROP DATABASE ... WITH (FORCE), if it exists
//   sync <admin-url> <db> on|off   ALTER DATABASE ... SET synchronous_commit (new connections)
//   reset <db-url>                 every task of the previous measure to archive, then VACUUM
//                                  ANALYZE hurah.tasks: the next one starts on an empty inbox in a
//                                  table with history and fresh statistics, as in service
//   fresh <db-url>                 DROP SCHEMA hurah CASCADE: the next dispatcher or handler
//                                  creates it anew (empty tables that were never analyzed, as
//                                  on a first deployment)
//   info <db-url>                  server version, synchronous_commit as a new connection sees it
// Usage: php -d extension=pdo -d extension=pdo_pgsql bench/php_pg_admin.php <command> ...
require __DIR__ . '/php_pg_common.php';

$cmd = $argv[1] ?? '';
$db = $argv[3] ?? '';
if (in_array($cmd, ['create', 'drop', 'sync'], true) && !preg_match('/^[a-z_][a-z0-9_]*$/', $db)) {
    fwrite(STDERR, "bad database name\n");
    exit(2);
}
set_exception_handler(function (Throwable $e) {
    fwrite(STDERR, 'php_pg_admin.php: ' . $e->getMessage() . "\n");
    exit(1);
});
switch ($cmd) {
    case 'create':
        pg_pdo($argv[2])->exec("CREATE DATABASE $db");
        echo pg_with_db($argv[2], $db), "\n";
        break;
    case 'drop':
        pg_pdo($argv[2])->exec("DROP DATABASE IF EXISTS $db WITH (FORCE)");
        break;
    case 'sync':
        $v = $argv[4] ?? '';
        if ($v !== 'on' && $v !== 'off') {
            fwrite(STDERR, "sync on|off\n");
            exit(2);
        }
        pg_pdo($argv[2])->exec("ALTER DATABASE $db SET synchronous_commit = $v");
        break;
    case 'reset':
        $pdo = pg_pdo($argv[2]);
        if ($pdo->query("SELECT to_regclass('hurah.tasks')")->fetchColumn() !== null) {
            $pdo->exec("UPDATE hurah.tasks SET state = 'archive', claimed_by = NULL, started = false
                        WHERE state <> 'archive'");
            $pdo->exec('VACUUM ANALYZE hurah.tasks');
        }
        break;
    case 'fresh':
        pg_pdo($argv[2])->exec('DROP SCHEMA IF EXISTS hurah CASCADE');
        break;
    case 'info':
        $pdo = pg_pdo($argv[2]);
        echo 'server_version ', $pdo->query('SHOW server_version')->fetchColumn(), "\n";
        echo 'synchronous_commit ', $pdo->query('SHOW synchronous_commit')->fetchColumn(), "\n";
        break;
    default:
        fwrite(STDERR, "usage: php_pg_admin.php create|drop|sync|reset|fresh|info ...\n");
        exit(2);
}

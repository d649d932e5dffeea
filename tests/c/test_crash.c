/* A C task callback that crashes its process (SIGSEGV) or exits in the middle of a task
 * (issue 7 point 3): the task stays claimed by the dead worker, the next worker returns it to
 * the inbox counting the attempt and runs it again; a task that kills every worker ends in
 * error/ as "WorkerDied" once the handler's max attempts are used up. The other tasks are
 * served either way.
 *
 * The crashing worker is this program re-executed (argv[0] child ...), so the parent (run under
 * valgrind by the Makefile) only dispatches, checks and frees.
 */
#include "testlib.h" /* first: it defines _GNU_SOURCE */

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

struct child {
    const char *log;
    const char *mode; /* "segv-once", "exit-once", "segv-always" */
};

static void log_line(const char *log, const char *line)
{
    FILE *f = fopen(log, "a");
    if (!f)
        abort();
    fputs(line, f);
    fclose(f);
}

static int crashing_callback(const hurah_task *task, void *user_data)
{
    const struct child *c = user_data;
    size_t len = 0;
    const char *payload = hurah_task_payload(task, &len);
    unsigned long long attempt = (unsigned long long)hurah_task_attempt(task);
    char line[128];
    snprintf(line, sizeof line, "%.*s %llu\n", (int)len, payload, attempt);
    log_line(c->log, line);
    if (strstr(payload, "boom")) {
        int always = strcmp(c->mode, "segv-always") == 0;
        if (always || attempt == 1) {
            if (strncmp(c->mode, "exit", 4) == 0)
                _exit(7);
            raise(SIGSEGV);
        }
    }
    return HURAH_SUCCESS;
}

/* The worker process: one hurah_handler_handle() on the listener, then exit 0. */
static int child_main(const char *root, const char *name, const char *mode, const char *log)
{
    struct child c = {log, mode};
    hurah_options *o = hurah_options_new();
    hurah_options_set_fsync(o, HURAH_FSYNC_NEVER);
    hurah_options_set_max_attempts(o, 1);
    hurah_handler *h = NULL;
    hurah_error *err = NULL;
    if (hurah_handler_new(root, "crash", name, crashing_callback, &c, o, &h, &err) != HURAH_OK) {
        fprintf(stderr, "child: %s\n", hurah_error_message(err));
        return 2;
    }
    hurah_status s = hurah_handler_handle(h, NULL, &err);
    if (s != HURAH_OK)
        fprintf(stderr, "child: handle: %s\n", hurah_error_message(err));
    hurah_handler_free(h);
    hurah_options_free(o);
    hurah_error_free(err);
    return s == HURAH_OK ? 0 : 3;
}

/* Runs a worker process; returns its wait status. */
static int run_child(const char *self, const char *root, const char *name, const char *mode,
                     const char *log)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        abort();
    if (pid == 0) {
        /* The crashing workers must not leave core files around. */
        struct rlimit none = {0, 0};
        setrlimit(RLIMIT_CORE, &none);
        execl(self, self, "child", root, name, mode, log, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid)
        abort();
    return status;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return strdup(buf);
}

/* Counts the task files in every claimed/<worker>/ directory of the listener. */
static int claimed_tasks(const char *root, const char *name)
{
    char *dir = NULL;
    if (asprintf(&dir, "%s/crash/%s_listener/claimed", root, name) < 0)
        abort();
    DIR *d = opendir(dir);
    int n = 0;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char *rel = NULL;
            if (asprintf(&rel, "crash/%s_listener/claimed/%s", name, e->d_name) < 0)
                abort();
            int k = tl_count(root, rel);
            n += k > 0 ? k : 0;
            free(rel);
        }
        closedir(d);
    }
    free(dir);
    return n;
}

static void dispatch3(const char *root)
{
    hurah_options *o = hurah_options_new();
    hurah_options_set_fsync(o, HURAH_FSYNC_NEVER);
    hurah_dispatcher *d = NULL;
    OK(hurah_dispatcher_new(root, o, &d, NULL));
    const char *payloads[] = {"\"k1\"", "\"boom\"", "\"k3\""};
    for (int i = 0; i < 3; i++)
        OK(hurah_dispatcher_dispatch(d, "crash", payloads[i], strlen(payloads[i]), 0, NULL, NULL));
    hurah_dispatcher_free(d);
    hurah_options_free(o);
}

/* Registers the listener (a handler that never runs). */
static void register_listener(const char *root, const char *name)
{
    hurah_options *o = hurah_options_new();
    hurah_options_set_fsync(o, HURAH_FSYNC_NEVER);
    hurah_handler *h = NULL;
    OK(hurah_handler_new(root, "crash", name, crashing_callback, NULL, o, &h, NULL));
    hurah_handler_free(h);
    hurah_options_free(o);
}

static void crash_once(const char *self, const char *root, const char *mode, int want_signal,
                       int want_exit)
{
    char *log = NULL;
    if (asprintf(&log, "%s/%s.log", root, mode) < 0)
        abort();
    register_listener(root, mode);
    dispatch3(root);

    int st = run_child(self, root, mode, mode, log);
    if (want_signal)
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == want_signal);
    else
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == want_exit);
    char *runs = read_file(log);
    CHECK(strcmp(runs, "\"k1\" 1\n\"boom\" 1\n") == 0);
    free(runs);
    CHECK(claimed_tasks(root, mode) == 1); /* boom, left by the dead worker */

    st = run_child(self, root, mode, mode, log);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    runs = read_file(log);
    CHECK(strcmp(runs, "\"k1\" 1\n\"boom\" 1\n\"boom\" 2\n\"k3\" 1\n") == 0);
    if (strcmp(runs, "\"k1\" 1\n\"boom\" 1\n\"boom\" 2\n\"k3\" 1\n") != 0)
        fprintf(stderr, "runs:\n%s", runs);
    free(runs);
    char *archive = NULL;
    if (asprintf(&archive, "crash/%s_listener/archive", mode) < 0)
        abort();
    CHECK(tl_count(root, archive) == 3);
    CHECK(claimed_tasks(root, mode) == 0);
    free(archive);
    free(log);
}

static void crash_always(const char *self, const char *root)
{
    const char *mode = "segv-always";
    char *log = NULL;
    if (asprintf(&log, "%s/%s.log", root, mode) < 0)
        abort();
    register_listener(root, mode);
    dispatch3(root);
    /* max_attempts 1: boom kills two workers, the third gives up on it. */
    for (int i = 0; i < 2; i++) {
        int st = run_child(self, root, mode, mode, log);
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    }
    int st = run_child(self, root, mode, mode, log);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char *runs = read_file(log);
    CHECK(strcmp(runs, "\"k1\" 1\n\"boom\" 1\n\"boom\" 2\n\"k3\" 1\n") == 0);
    free(runs);

    hurah_options *o = hurah_options_new();
    hurah_options_set_fsync(o, HURAH_FSYNC_NEVER);
    hurah_handler *h = NULL;
    OK(hurah_handler_new(root, "crash", mode, crashing_callback, NULL, o, &h, NULL));
    uint64_t n = 0;
    OK(hurah_handler_failed_count(h, &n, NULL));
    CHECK(n == 1);
    char *reason = NULL;
    OK(hurah_handler_failed_reason(h, 2, &reason, NULL));
    CHECK(reason && strstr(reason, "worker died"));
    hurah_string_free(reason);
    hurah_handler_free(h);
    hurah_options_free(o);
    free(log);
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "child") == 0)
        return child_main(argv[2], argv[3], argv[4], argv[5]);
    char *root = tl_tempdir();
    crash_once(argv[0], root, "segv-once", SIGSEGV, 0);
    crash_once(argv[0], root, "exit-once", 0, 7);
    crash_always(argv[0], root);
    tl_rmtree(root);
    free(root);
    return tl_finish();
}

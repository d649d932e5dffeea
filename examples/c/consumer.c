/* consumer ROOT EVENT_TYPE HANDLER_NAME [--watch] [--max-jobs N] [--outcome CODE]
 *
 * Registers a handler with the hurah C API and runs the tasks due (or, with --watch, runs
 * until SIGINT/SIGTERM or --max-jobs tasks). Prints one line per task:
 *
 *   <sequence> <event_type> <attempt> <id> <payload JSON>
 *
 * and returns CODE for each task (0 SUCCESS by default, 1 FAILURE, 2 RETRY, 3 INVALID).
 * Exit status: 0 ok, 1 error (message on stderr), 2 usage. HURAH_FSYNC=never skips fsync. */
#define _POSIX_C_SOURCE 200809L
#include <hurah.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static hurah_handler *handler;

static void on_signal(int sig)
{
    (void)sig;
    hurah_handler_stop(handler); /* async-signal-safe */
}

static int print_task(const hurah_task *task, void *user_data)
{
    size_t len = 0;
    const char *payload = hurah_task_payload(task, &len);
    printf("%llu %s %llu %s %.*s\n", (unsigned long long)hurah_task_sequence(task),
           hurah_task_event_type(task), (unsigned long long)hurah_task_attempt(task),
           hurah_task_id(task), (int)len, payload);
    fflush(stdout);
    int outcome = *(const int *)user_data;
    if (outcome != HURAH_SUCCESS)
        hurah_task_set_reason(task, "consumer was told to fail");
    return outcome;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s ROOT EVENT_TYPE HANDLER_NAME [--watch] [--max-jobs N] [--outcome CODE]\n", argv[0]);
        return 2;
    }
    int watch = 0, outcome = HURAH_SUCCESS;
    unsigned long long max_jobs = 0;
    for (int i = 4; i < argc; i++) {
        if (strcmp(argv[i], "--watch") == 0) {
            watch = 1;
        } else if (strcmp(argv[i], "--max-jobs") == 0 && i + 1 < argc) {
            max_jobs = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--outcome") == 0 && i + 1 < argc) {
            outcome = atoi(argv[++i]);
        } else {
            fprintf(stderr, "consumer: unknown argument %s\n", argv[i]);
            return 2;
        }
    }

    const char *fsync = getenv("HURAH_FSYNC");
    hurah_options *opts = hurah_options_new();
    hurah_options_set_fsync(opts, fsync && strcmp(fsync, "never") == 0 ? HURAH_FSYNC_NEVER
                                                                      : HURAH_FSYNC_ALWAYS);
    hurah_options_set_max_jobs(opts, max_jobs);
    hurah_error *err = NULL;
    hurah_stats stats;
    int rc = 0;
    if (hurah_handler_new(argv[1], argv[2], argv[3], print_task, &outcome, opts, &handler, &err) != HURAH_OK) {
        rc = 1;
    } else if (watch) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        rc = hurah_handler_watch(handler, opts, &stats, &err) != HURAH_OK;
    } else {
        rc = hurah_handler_handle(handler, &stats, &err) != HURAH_OK;
    }
    if (rc)
        fprintf(stderr, "consumer: %s (%s)\n", hurah_error_message(err),
                hurah_status_message(hurah_error_status(err)));
    hurah_error_free(err);
    signal(SIGINT, SIG_DFL); /* no signal handler may touch the handler once it is freed */
    signal(SIGTERM, SIG_DFL);
    hurah_handler_free(handler);
    hurah_options_free(opts);
    return rc;
}

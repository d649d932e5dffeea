/* hurah_handler_watch with real threads: a producer thread dispatches while the watch runs,
 * another thread stops it; then a stop from a signal handler; then a delayed task firing
 * during a watch. Prints "N passed, M failed" last. */
#include "testlib.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>

#define TASKS 40

static atomic_int handled;
static atomic_ullong last_sequence;
static atomic_int out_of_order;

static int count_task(const hurah_task *task, void *user_data)
{
    (void)user_data;
    uint64_t seq = hurah_task_sequence(task);
    if (seq <= atomic_load(&last_sequence))
        atomic_fetch_add(&out_of_order, 1);
    atomic_store(&last_sequence, seq);
    atomic_fetch_add(&handled, 1);
    return HURAH_SUCCESS;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits up to `ms` for handled >= n. */
static int wait_handled(int n, long ms)
{
    for (long waited = 0; waited < ms; waited += 5) {
        if (atomic_load(&handled) >= n)
            return 1;
        sleep_ms(5);
    }
    return atomic_load(&handled) >= n;
}

typedef struct {
    hurah_handler *h;
    const hurah_options *opts;
    hurah_status status;
    hurah_stats stats;
    char message[512];
} watch_run;

static void *watch_thread(void *arg)
{
    watch_run *w = arg;
    hurah_error *err = NULL;
    w->status = hurah_handler_watch(w->h, w->opts, &w->stats, &err);
    snprintf(w->message, sizeof w->message, "%s", hurah_error_message(err));
    hurah_error_free(err);
    return NULL;
}

typedef struct {
    const char *root;
    int failures;
} producer_args;

static void *producer_thread(void *arg)
{
    producer_args *p = arg;
    hurah_options *o = hurah_options_new();
    hurah_options_set_fsync(o, HURAH_FSYNC_NEVER);
    hurah_dispatcher *d = NULL;
    if (hurah_dispatcher_new(p->root, o, &d, NULL) != HURAH_OK)
        p->failures++;
    hurah_options_free(o);
    for (int i = 0; i < TASKS; i++) {
        char json[64];
        int len = snprintf(json, sizeof json, "{\"i\":%d}", i);
        if (hurah_dispatcher_dispatch(d, "job/created", json, (size_t)len, 0, NULL, NULL) != HURAH_OK)
            p->failures++;
        if (i % 10 == 0)
            sleep_ms(2);
    }
    hurah_dispatcher_free(d);
    return NULL;
}

static void *stopper_thread(void *arg)
{
    hurah_handler *h = arg;
    wait_handled(TASKS, 20000);
    hurah_handler_stop(h);
    return NULL;
}

static hurah_handler *new_handler(const char *root, const char *name)
{
    hurah_options *o = hurah_options_new();
    hurah_options_set_fsync(o, HURAH_FSYNC_NEVER);
    hurah_handler *h = NULL;
    hurah_error *err = NULL;
    hurah_status s = hurah_handler_new(root, "job", name, count_task, NULL, o, &h, &err);
    if (s != HURAH_OK)
        fprintf(stderr, "handler_new: %s\n", hurah_error_message(err));
    CHECK(s == HURAH_OK);
    hurah_error_free(err);
    hurah_options_free(o);
    return h;
}

static void test_dispatch_while_watching_and_stop_from_thread(const char *root)
{
    atomic_store(&handled, 0);
    atomic_store(&last_sequence, 0);
    hurah_handler *h = new_handler(root, "threads");
    watch_run w = {.h = h, .opts = NULL};
    producer_args p = {.root = root};
    pthread_t tw, tp, ts;
    pthread_create(&tw, NULL, watch_thread, &w);
    sleep_ms(50); /* let the watch start and go idle */
    pthread_create(&tp, NULL, producer_thread, &p);
    pthread_create(&ts, NULL, stopper_thread, h);
    pthread_join(tp, NULL);
    pthread_join(ts, NULL);
    pthread_join(tw, NULL);
    if (w.status != HURAH_OK)
        fprintf(stderr, "watch: %s\n", w.message);
    CHECK(w.status == HURAH_OK);
    CHECK(p.failures == 0);
    CHECK(atomic_load(&handled) == TASKS);
    CHECK(w.stats.handled == TASKS && w.stats.succeeded == TASKS);
    CHECK(atomic_load(&out_of_order) == 0);
    CHECK(tl_count(root, "job/threads_listener/archive") == TASKS);
    CHECK(tl_count(root, "job/threads_listener/claimed") == 0);
    /* Use after stop. */
    CHECK(hurah_handler_watch(h, NULL, NULL, NULL) == HURAH_STOPPED);
    hurah_handler_free(h);
}

static hurah_handler *signal_target;

static void on_sigusr1(int sig)
{
    (void)sig;
    hurah_handler_stop(signal_target); /* async-signal-safe */
}

static void test_stop_from_signal_handler(const char *root)
{
    hurah_handler *h = new_handler(root, "signals");
    signal_target = h;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);

    watch_run w = {.h = h, .opts = NULL};
    pthread_t tw;
    pthread_create(&tw, NULL, watch_thread, &w);
    sleep_ms(500); /* the watch is idle by now, even under valgrind */
    /* Deliver the signal to the watching thread itself: the handler interrupts the watch. */
    pthread_kill(tw, SIGUSR1);
    pthread_join(tw, NULL);
    CHECK(w.status == HURAH_OK);
    CHECK(hurah_handler_is_stopped(h));
    signal(SIGUSR1, SIG_DFL);
    hurah_handler_free(h);
}

static void test_delayed_task_fires_during_watch(const char *root)
{
    atomic_store(&handled, 0);
    atomic_store(&last_sequence, 0);
    hurah_handler *h = new_handler(root, "delays");
    hurah_dispatcher *d = NULL;
    CHECK(hurah_dispatcher_new(root, NULL, &d, NULL) == HURAH_OK);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(hurah_dispatcher_dispatch(d, "job", "1", 1, 300, NULL, NULL) == HURAH_OK);
    hurah_options *o = hurah_options_new();
    hurah_options_set_max_jobs(o, 1);
    hurah_options_set_max_time_ms(o, 10000);
    hurah_stats st;
    CHECK(hurah_handler_watch(h, o, &st, NULL) == HURAH_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    CHECK(st.handled == 1);
    CHECK(ms >= 250 && ms < 9000);
    hurah_options_free(o);
    hurah_dispatcher_free(d);
    hurah_handler_free(h);
}

int main(void)
{
    char *root = tl_tempdir();
    test_dispatch_while_watching_and_stop_from_thread(root);
    test_stop_from_signal_handler(root);
    test_delayed_task_fires_during_watch(root);
    tl_rmtree(root);
    free(root);
    return tl_finish();
}

/* C side of the benchmark (libhurah): dispatch N events to K listeners, then handle N tasks
 * with a no-op callback. Prints `key value` lines (µs per event) like bench_limit and
 * php_bench.php. Usage: c_bench <dir> <n> <listeners> <always|never>
 * Built by `make -C tests/c bench` as tests/c/bin/c_bench (release libhurah.so). */
#define _POSIX_C_SOURCE 200809L
#include <hurah.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int noop(const hurah_task *task, void *user_data)
{
    (void)task;
    (void)user_data;
    return HURAH_SUCCESS;
}

static void die(const char *what, hurah_error *err)
{
    fprintf(stderr, "c_bench: %s: %s\n", what, hurah_error_message(err));
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s <dir> <n> <listeners> [always|never]\n", argv[0]);
        return 64;
    }
    int n = atoi(argv[2]), k = atoi(argv[3]);
    if (k < 1 || k > 3 || n < 1) {
        fprintf(stderr, "c_bench: 1..3 listeners, n >= 1\n");
        return 64;
    }
    char root[4096];
    snprintf(root, sizeof root, "%s/c", argv[1]);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        return 1;

    hurah_options *o = hurah_options_new();
    hurah_options_set_fsync(o, argc > 4 && strcmp(argv[4], "always") == 0 ? HURAH_FSYNC_ALWAYS
                                                                         : HURAH_FSYNC_NEVER);
    const char *names[] = {"image_scaler", "translation", "price_calculator"};
    const char *types[] = {"product/stored", "product/stored", "product"};
    hurah_handler *h[3] = {NULL, NULL, NULL};
    hurah_error *err = NULL;
    for (int i = 0; i < k; i++)
        if (hurah_handler_new(root, types[i], names[i], noop, NULL, o, &h[i], &err) != HURAH_OK)
            die("handler", err);
    /* let listener listings settle (the dispatcher caches them after 100 ms) */
    struct timespec settle = {0, 150000000L};
    nanosleep(&settle, NULL);
    hurah_dispatcher *d = NULL;
    if (hurah_dispatcher_new(root, o, &d, &err) != HURAH_OK)
        die("dispatcher", err);

    char json[128];
    double t = now_us();
    for (int i = 0; i < n; i++) {
        int len = snprintf(json, sizeof json, "{\"product_id\":%d,\"name\":\"benchmark\"}", i);
        if (hurah_dispatcher_dispatch(d, "product/stored", json, (size_t)len, 0, NULL, &err) != HURAH_OK)
            die("dispatch", err);
    }
    printf("c_dispatch %.3f\n", (now_us() - t) / n);

    hurah_stats st;
    t = now_us();
    if (hurah_handler_handle(h[0], &st, &err) != HURAH_OK)
        die("handle", err);
    printf("c_handle %.3f\n", (now_us() - t) / n);
    if (st.succeeded != (uint64_t)n) {
        fprintf(stderr, "c_bench: handled %llu of %d\n", (unsigned long long)st.succeeded, n);
        return 1;
    }
    for (int i = 0; i < k; i++)
        hurah_handler_free(h[i]);
    hurah_dispatcher_free(d);
    hurah_options_free(o);
    if (system(cmd) != 0)
        return 1;
    return 0;
}

/* producer ROOT EVENT_TYPE JSON [DELAY_MS]
 *
 * Dispatches one event with the hurah C API and prints "<id> <listeners>": the dispatch id and
 * how many listeners it reached (0 means no handler is registered for that type yet).
 * Exit status: 0 dispatched, 1 error (message on stderr), 2 usage.
 * HURAH_FSYNC=never skips fsync (tmpfs, tests). */
#include <hurah.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: %s ROOT EVENT_TYPE JSON [DELAY_MS]\n", argv[0]);
        return 2;
    }
    const char *fsync = getenv("HURAH_FSYNC");
    hurah_options *opts = hurah_options_new();
    hurah_options_set_fsync(opts, fsync && strcmp(fsync, "never") == 0 ? HURAH_FSYNC_NEVER
                                                                      : HURAH_FSYNC_ALWAYS);
    hurah_dispatcher *d = NULL;
    hurah_error *err = NULL;
    char *id = NULL;
    size_t listeners = 0;
    uint64_t delay_ms = argc == 5 ? strtoull(argv[4], NULL, 10) : 0;
    int rc = 0;

    if (hurah_dispatcher_new(argv[1], opts, &d, &err) != HURAH_OK ||
        hurah_dispatcher_listener_count(d, argv[2], &listeners, &err) != HURAH_OK ||
        hurah_dispatcher_dispatch(d, argv[2], argv[3], strlen(argv[3]), delay_ms, &id, &err) != HURAH_OK) {
        fprintf(stderr, "producer: %s (%s)\n", hurah_error_message(err),
                hurah_status_message(hurah_error_status(err)));
        rc = 1;
    } else {
        printf("%s %zu\n", id, listeners);
    }
    hurah_string_free(id);
    hurah_error_free(err);
    hurah_dispatcher_free(d);
    hurah_options_free(opts);
    return rc;
}

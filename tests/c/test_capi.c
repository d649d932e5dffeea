/* Unit-style tests of the hurah C API: dispatch -> handle with every outcome code, retries and
 * max attempts, task accessors, failed-task operations, stop and busy rules, and the error
 * paths (NULL pointers, invalid UTF-8, invalid JSON, bad names, unwritable roots). Prints
 * "N passed, M failed" last and exits non-zero on any failure. */
#include "testlib.h"

#include <inttypes.h>

/* What the callback does and what it saw. */
typedef struct {
    int outcome;              /* value to return */
    const char *reason;       /* set with hurah_task_set_reason when not NULL */
    int64_t retry_delay_ms;   /* set with hurah_task_set_retry_delay when >= 0 */
    hurah_handler *stop_self; /* call hurah_handler_stop on it after the first task */
    hurah_handler *recurse;   /* call hurah_handler_handle on it (must be HURAH_BUSY) */
    int calls;
    hurah_status recurse_status;
    /* last task seen */
    char payload[256];
    size_t payload_len;
    uint64_t sequence, attempt;
    char id[64], event_type[128], delivery[64];
    hurah_status null_checks; /* HURAH_OK when every NULL-argument check behaved */
} script;

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "(null)");
}

static int callback(const hurah_task *task, void *user_data)
{
    script *s = user_data;
    s->calls++;
    size_t len = 0;
    const char *p = hurah_task_payload(task, &len);
    copy(s->payload, sizeof s->payload, p);
    s->payload_len = len;
    s->sequence = hurah_task_sequence(task);
    s->attempt = hurah_task_attempt(task);
    copy(s->id, sizeof s->id, hurah_task_id(task));
    copy(s->event_type, sizeof s->event_type, hurah_task_event_type(task));
    copy(s->delivery, sizeof s->delivery, hurah_task_delivery(task));
    if (hurah_task_set_reason(task, NULL) != HURAH_NULL_POINTER ||
        hurah_task_set_reason(NULL, "x") != HURAH_NULL_POINTER ||
        hurah_task_set_reason(task, "\xff\xfe") != HURAH_INVALID_UTF8)
        s->null_checks = HURAH_INVALID_ARGUMENT;
    if (s->reason)
        hurah_task_set_reason(task, s->reason);
    if (s->retry_delay_ms >= 0)
        hurah_task_set_retry_delay(task, (uint64_t)s->retry_delay_ms);
    if (s->stop_self)
        hurah_handler_stop(s->stop_self);
    if (s->recurse)
        s->recurse_status = hurah_handler_handle(s->recurse, NULL, NULL);
    return s->outcome;
}

static script new_script(int outcome)
{
    script s;
    memset(&s, 0, sizeof s);
    s.outcome = outcome;
    s.retry_delay_ms = -1;
    return s;
}

static hurah_options *never_fsync(void)
{
    hurah_options *o = hurah_options_new();
    hurah_options_set_fsync(o, HURAH_FSYNC_NEVER);
    return o;
}

static void dispatch(hurah_dispatcher *d, const char *type, const char *json)
{
    hurah_error *err = NULL;
    hurah_status s = hurah_dispatcher_dispatch(d, type, json, json ? strlen(json) : 0, 0, NULL, &err);
    if (s != HURAH_OK)
        fprintf(stderr, "dispatch failed: %s\n", hurah_error_message(err));
    CHECK(s == HURAH_OK);
    hurah_error_free(err);
}

static void test_version_and_messages(void)
{
    CHECK(strlen(hurah_version()) > 0);
    CHECK(strcmp(hurah_status_message(HURAH_OK), "ok") == 0);
    CHECK(strcmp(hurah_status_message(12345), "unknown status") == 0);
    for (int s = 100; s <= 115; s++)
        CHECK(strcmp(hurah_status_message(s), "unknown status") != 0);
    CHECK(strstr(hurah_status_message(HURAH_PANIC), "panic") != NULL);
    CHECK(hurah_error_status(NULL) == HURAH_OK);
    CHECK(hurah_error_message(NULL) != NULL);
    hurah_error_free(NULL);
    hurah_string_free(NULL);
}

static void test_options(void)
{
    hurah_options *o = hurah_options_new();
    CHECK(o != NULL);
    CHECK_STATUS(hurah_options_set_fsync(o, 7), HURAH_INVALID_ARGUMENT);
    OK(hurah_options_set_fsync(o, HURAH_FSYNC_NEVER));
    CHECK_STATUS(hurah_options_set_fsync(NULL, HURAH_FSYNC_NEVER), HURAH_NULL_POINTER);
    CHECK_STATUS(hurah_options_set_rescan_interval_ms(o, 0), HURAH_INVALID_ARGUMENT);
    OK(hurah_options_set_rescan_interval_ms(o, 1000));
    OK(hurah_options_set_max_attempts(o, 3));
    OK(hurah_options_set_retry_delay_ms(o, 10));
    OK(hurah_options_set_retry_backoff(o, 2.0, 60000, 0.1));
    CHECK_STATUS(hurah_options_set_retry_backoff(o, 0.5, 0, 0.0), HURAH_INVALID_ARGUMENT);
    CHECK_STATUS(hurah_options_set_retry_backoff(o, 2.0, 0, 1.5), HURAH_INVALID_ARGUMENT);
    CHECK_STATUS(hurah_options_set_retry_backoff(o, 0.0 / 0.0, 0, 0.0), HURAH_INVALID_ARGUMENT);
    CHECK_STATUS(hurah_options_set_retry_backoff(NULL, 2.0, 0, 0.0), HURAH_NULL_POINTER);
    OK(hurah_options_set_max_jobs(o, 1));
    OK(hurah_options_set_max_time_ms(o, 1));
    OK(hurah_options_set_memory_limit(o, 1 << 30));
    OK(hurah_options_set_stop_when_empty(o, true));
    OK(hurah_options_set_group_commit(o, true));
    CHECK_STATUS(hurah_options_set_group_commit(NULL, true), HURAH_NULL_POINTER);
    OK(hurah_options_set_log(o, NULL, NULL));
    CHECK_STATUS(hurah_options_set_max_jobs(NULL, 1), HURAH_NULL_POINTER);
    hurah_options_free(o);
    hurah_options_free(NULL);
}

static void test_dispatcher_errors(const char *root)
{
    hurah_dispatcher *d = (hurah_dispatcher *)1;
    hurah_error *err = NULL;

    CHECK_STATUS(hurah_dispatcher_new(NULL, NULL, &d, &err), HURAH_NULL_POINTER);
    CHECK(d == NULL);
    CHECK(hurah_error_status(err) == HURAH_NULL_POINTER);
    CHECK(strstr(hurah_error_message(err), "root") != NULL);
    /* A second failure replaces (frees) the first error: valgrind checks there is no leak. */
    CHECK_STATUS(hurah_dispatcher_new("", NULL, &d, &err), HURAH_INVALID_ARGUMENT);
    CHECK(hurah_error_status(err) == HURAH_INVALID_ARGUMENT);
    CHECK_STATUS(hurah_dispatcher_new(root, NULL, NULL, &err), HURAH_NULL_POINTER);
    /* err may be NULL. */
    CHECK_STATUS(hurah_dispatcher_new(NULL, NULL, &d, NULL), HURAH_NULL_POINTER);

    /* Unwritable root: a path under a regular file (the tests run as root, so permissions
     * alone would not stop them). */
    char *file = NULL, *under = NULL;
    if (asprintf(&file, "%s/plain-file", root) < 0 || asprintf(&under, "%s/plain-file/q", root) < 0)
        abort();
    FILE *f = fopen(file, "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    CHECK_STATUS(hurah_dispatcher_new(under, NULL, &d, &err), HURAH_IO);
    CHECK(strstr(hurah_error_message(err), "plain-file") != NULL);
    CHECK(d == NULL);
    hurah_error_free(err);
    err = NULL;

    /* Dispatch-time errors. */
    hurah_options *o = never_fsync();
    OK(hurah_dispatcher_new(root, o, &d, &err));
    hurah_options_free(o);
    CHECK_STATUS(hurah_dispatcher_dispatch(NULL, "a", "1", 1, 0, NULL, &err), HURAH_NULL_POINTER);
    CHECK_STATUS(hurah_dispatcher_dispatch(d, NULL, "1", 1, 0, NULL, &err), HURAH_NULL_POINTER);
    char *id = (char *)1;
    CHECK_STATUS(hurah_dispatcher_dispatch(d, "a", "{\"a\":", 5, 0, &id, &err), HURAH_INVALID_JSON);
    CHECK(id == NULL);
    CHECK(strstr(hurah_error_message(err), "JSON") != NULL);
    CHECK_STATUS(hurah_dispatcher_dispatch(d, "a", "\"\xff\"", 3, 0, NULL, &err), HURAH_INVALID_UTF8);
    CHECK_STATUS(hurah_dispatcher_dispatch(d, "a\xff", "1", 1, 0, NULL, &err), HURAH_INVALID_UTF8);
    CHECK_STATUS(hurah_dispatcher_dispatch(d, "a//b", "1", 1, 0, NULL, &err), HURAH_INVALID_EVENT_TYPE);
    CHECK(strstr(hurah_error_message(err), "a//b") != NULL);
    CHECK_STATUS(hurah_dispatcher_dispatch(d, "a/", "1", 1, 0, NULL, &err), HURAH_INVALID_EVENT_TYPE);
    CHECK_STATUS(hurah_dispatcher_dispatch(d, "../etc", "1", 1, 0, NULL, &err), HURAH_INVALID_EVENT_TYPE);
    CHECK_STATUS(hurah_dispatcher_dispatch(d, "x_listener", "1", 1, 0, NULL, &err), HURAH_INVALID_EVENT_TYPE);
    /* Only json_len bytes are read: "1}" with len 1 is the valid payload 1. */
    OK(hurah_dispatcher_dispatch(d, "a", "1}", 1, 0, NULL, &err));
    size_t n = 99;
    CHECK_STATUS(hurah_dispatcher_listener_count(d, "a", NULL, &err), HURAH_NULL_POINTER);
    CHECK_STATUS(hurah_dispatcher_listener_count(d, "a//", &n, &err), HURAH_INVALID_EVENT_TYPE);
    OK(hurah_dispatcher_listener_count(d, "a", &n, &err));
    CHECK(n == 0);
    hurah_error_free(err);
    hurah_dispatcher_free(d);
    hurah_dispatcher_free(NULL);
    free(file);
    free(under);
}

static void test_handler_errors(const char *root)
{
    script s = new_script(HURAH_SUCCESS);
    hurah_handler *h = (hurah_handler *)1;
    hurah_error *err = NULL;
    CHECK_STATUS(hurah_handler_new(root, "a//b", "n", callback, &s, NULL, &h, &err), HURAH_INVALID_EVENT_TYPE);
    CHECK(h == NULL);
    CHECK_STATUS(hurah_handler_new(root, "a", "../evil", callback, &s, NULL, &h, &err), HURAH_INVALID_HANDLER_NAME);
    CHECK(strstr(hurah_error_message(err), "../evil") != NULL);
    CHECK_STATUS(hurah_handler_new(root, "a", "", callback, &s, NULL, &h, &err), HURAH_INVALID_HANDLER_NAME);
    CHECK_STATUS(hurah_handler_new(root, "a\xc3", "n", callback, &s, NULL, &h, &err), HURAH_INVALID_UTF8);
    CHECK_STATUS(hurah_handler_new(root, "a", "n\xff", callback, &s, NULL, &h, &err), HURAH_INVALID_UTF8);
    CHECK_STATUS(hurah_handler_new(root, "a", "n", NULL, &s, NULL, &h, &err), HURAH_NULL_POINTER);
    CHECK(strstr(hurah_error_message(err), "callback") != NULL);
    CHECK_STATUS(hurah_handler_new(NULL, "a", "n", callback, &s, NULL, &h, &err), HURAH_NULL_POINTER);
    CHECK_STATUS(hurah_handler_new(root, NULL, "n", callback, &s, NULL, &h, &err), HURAH_NULL_POINTER);
    CHECK_STATUS(hurah_handler_new(root, "a", NULL, callback, &s, NULL, &h, &err), HURAH_NULL_POINTER);
    CHECK_STATUS(hurah_handler_new(root, "a", "n", callback, &s, NULL, NULL, &err), HURAH_NULL_POINTER);
    char *under = NULL;
    if (asprintf(&under, "%s/plain-file/q", root) < 0)
        abort();
    CHECK_STATUS(hurah_handler_new(under, "a", "n", callback, &s, NULL, &h, &err), HURAH_IO);
    free(under);
    /* Calls on NULL handlers. */
    hurah_stats st;
    CHECK_STATUS(hurah_handler_handle(NULL, &st, &err), HURAH_NULL_POINTER);
    CHECK_STATUS(hurah_handler_watch(NULL, NULL, &st, &err), HURAH_NULL_POINTER);
    CHECK_STATUS(hurah_handler_stop(NULL), HURAH_NULL_POINTER);
    CHECK(!hurah_handler_is_stopped(NULL));
    uint64_t c;
    CHECK_STATUS(hurah_handler_failed_count(NULL, &c, &err), HURAH_NULL_POINTER);
    hurah_handler_free(NULL);
    /* Task accessors on NULL. */
    size_t len = 9;
    CHECK(hurah_task_payload(NULL, &len) == NULL && len == 0);
    CHECK(hurah_task_sequence(NULL) == 0 && hurah_task_attempt(NULL) == 0);
    CHECK(hurah_task_id(NULL) == NULL && hurah_task_event_type(NULL) == NULL && hurah_task_delivery(NULL) == NULL);
    CHECK(hurah_task_set_retry_delay(NULL, 1) == HURAH_NULL_POINTER);
    hurah_error_free(err);
}

/* A handler on `type` with `name`, fsync never and max_attempts. */
static hurah_handler *handler(const char *root, const char *type, const char *name, script *s, uint64_t max_attempts)
{
    hurah_options *o = never_fsync();
    hurah_options_set_max_attempts(o, max_attempts);
    hurah_handler *h = NULL;
    hurah_error *err = NULL;
    hurah_status st = hurah_handler_new(root, type, name, callback, s, o, &h, &err);
    if (st != HURAH_OK)
        fprintf(stderr, "handler_new failed: %s\n", hurah_error_message(err));
    CHECK(st == HURAH_OK && h != NULL);
    hurah_error_free(err);
    hurah_options_free(o);
    return h;
}

static hurah_dispatcher *dispatcher(const char *root)
{
    hurah_options *o = never_fsync();
    hurah_dispatcher *d = NULL;
    OK(hurah_dispatcher_new(root, o, &d, NULL));
    hurah_options_free(o);
    return d;
}

static void test_success_and_accessors(const char *root)
{
    script s = new_script(HURAH_SUCCESS);
    hurah_handler *h = handler(root, "product", "mailer", &s, 0);
    hurah_dispatcher *d = dispatcher(root);
    size_t n = 0;
    OK(hurah_dispatcher_listener_count(d, "product/created", &n, NULL));
    CHECK(n == 1);

    const char *json = "{\"product_id\":1,\"name\":\"caf\xc3\xa9\"}";
    char *id = NULL;
    OK(hurah_dispatcher_dispatch(d, "product/created", json, strlen(json), 0, &id, NULL));
    CHECK(id != NULL && strlen(id) == 30);
    CHECK(tl_count(root, "product/mailer_listener/inbox") == 1);

    hurah_stats st;
    OK(hurah_handler_handle(h, &st, NULL));
    CHECK(s.calls == 1);
    CHECK(st.handled == 1 && st.succeeded == 1 && st.failed == 0 && st.retried == 0);
    CHECK(strcmp(s.payload, json) == 0);
    CHECK(s.payload_len == strlen(json));
    CHECK(s.sequence == 1);
    CHECK(s.attempt == 1);
    CHECK(id && strcmp(s.id, id) == 0);
    CHECK(strcmp(s.event_type, "product/created") == 0);
    CHECK(strlen(s.delivery) >= 20);
    CHECK(s.null_checks == HURAH_OK);
    CHECK(tl_count(root, "product/mailer_listener/archive") == 1);
    CHECK(tl_count(root, "product/mailer_listener/inbox") == 0);
    hurah_string_free(id);

    /* NULL payload is the JSON null; the sequence goes on. */
    OK(hurah_dispatcher_dispatch(d, "product", NULL, 12345, 0, NULL, NULL));
    OK(hurah_handler_handle(h, NULL, NULL));
    CHECK(strcmp(s.payload, "null") == 0 && s.payload_len == 4);
    CHECK(s.sequence == 2);
    CHECK(strcmp(s.event_type, "product") == 0);

    /* Nothing due: handle is a no-op. */
    OK(hurah_handler_handle(h, &st, NULL));
    CHECK(st.handled == 0 && s.calls == 2);

    /* A delayed dispatch waits in delayed/. */
    char *delayed_id = NULL;
    OK(hurah_dispatcher_dispatch(d, "product", "1", 1, 60000, &delayed_id, NULL));
    CHECK(tl_count(root, "product/mailer_listener/delayed") == 1);
    OK(hurah_handler_handle(h, &st, NULL));
    CHECK(st.handled == 0);

    /* ...until it is cancelled by its dispatch id; an unknown id cancels nothing. */
    uint64_t cancelled = 99;
    OK(hurah_dispatcher_cancel(d, "no-such-id", &cancelled, NULL));
    CHECK(cancelled == 0);
    OK(hurah_dispatcher_cancel(d, delayed_id, &cancelled, NULL));
    CHECK(cancelled == 1);
    CHECK(tl_count(root, "product/mailer_listener/delayed") == 0);
    CHECK(hurah_dispatcher_cancel(d, NULL, &cancelled, NULL) == HURAH_NULL_POINTER);
    CHECK(hurah_dispatcher_cancel(NULL, delayed_id, NULL, NULL) == HURAH_NULL_POINTER);
    hurah_string_free(delayed_id);

    hurah_dispatcher_free(d);
    hurah_handler_free(h);
}

static void test_failure_invalid_unknown(const char *root)
{
    script s = new_script(HURAH_FAILURE);
    hurah_handler *h = handler(root, "order", "billing", &s, 0);
    hurah_dispatcher *d = dispatcher(root);
    hurah_stats st;
    char *reason = NULL;

    /* FAILURE with a reason: error/1.json keeps it. */
    s.reason = "card declined";
    dispatch(d, "order", "{\"n\":1}");
    OK(hurah_handler_handle(h, &st, NULL));
    CHECK(st.handled == 1 && st.failed == 1);
    OK(hurah_handler_failed_reason(h, 1, &reason, NULL));
    CHECK(reason && strcmp(reason, "card declined") == 0);
    hurah_string_free(reason);

    /* FAILURE without a reason: the default. */
    s.reason = NULL;
    dispatch(d, "order", "{\"n\":2}");
    OK(hurah_handler_handle(h, NULL, NULL));
    OK(hurah_handler_failed_reason(h, 2, &reason, NULL));
    CHECK(reason && strcmp(reason, "Task failed") == 0);
    hurah_string_free(reason);

    /* INVALID with and without a reason. */
    s.outcome = HURAH_INVALID;
    s.reason = "no such product";
    dispatch(d, "order", "{\"n\":3}");
    OK(hurah_handler_handle(h, NULL, NULL));
    OK(hurah_handler_failed_reason(h, 3, &reason, NULL));
    CHECK(reason && strcmp(reason, "no such product") == 0);
    hurah_string_free(reason);
    s.reason = NULL;
    dispatch(d, "order", "{\"n\":4}");
    OK(hurah_handler_handle(h, NULL, NULL));
    OK(hurah_handler_failed_reason(h, 4, &reason, NULL));
    CHECK(reason && strcmp(reason, "Task was invalid") == 0);
    hurah_string_free(reason);

    /* An unknown return code is a failure naming it, never a task stuck in the inbox. */
    s.outcome = 42;
    dispatch(d, "order", "{\"n\":5}");
    OK(hurah_handler_handle(h, &st, NULL));
    CHECK(st.failed == 1);
    OK(hurah_handler_failed_reason(h, 5, &reason, NULL));
    CHECK(reason && strstr(reason, "42") != NULL);
    hurah_string_free(reason);
    CHECK(tl_count(root, "order/billing_listener/error") == 5);
    CHECK(tl_count(root, "order/billing_listener/inbox") == 0);

    /* failed_reason errors. */
    reason = (char *)1;
    hurah_error *err = NULL;
    CHECK_STATUS(hurah_handler_failed_reason(h, 99, &reason, &err), HURAH_NOT_FOUND);
    CHECK(reason == NULL);
    CHECK_STATUS(hurah_handler_failed_reason(h, 1, NULL, &err), HURAH_NULL_POINTER);
    CHECK_STATUS(hurah_handler_failed_reason(h, HURAH_ALL_TASKS, &reason, &err), HURAH_INVALID_ARGUMENT);
    hurah_error_free(err);

    hurah_dispatcher_free(d);
    hurah_handler_free(h);
}

static void test_retry_and_max_attempts(const char *root)
{
    script s = new_script(HURAH_RETRY);
    hurah_handler *h = handler(root, "mail", "sender", &s, 2);
    hurah_dispatcher *d = dispatcher(root);
    hurah_stats st;
    dispatch(d, "mail", "\"hello\"");

    /* max_attempts 2: three runs, RETRY goes straight back to inbox/ and waits for the next
     * handle() call, as in hurah/events. */
    for (uint64_t run = 1; run <= 3; run++) {
        OK(hurah_handler_handle(h, &st, NULL));
        CHECK(st.handled == 1);
        CHECK(s.attempt == run);
        CHECK(s.sequence == 1);
        if (run < 3)
            CHECK(st.retried == 1 && tl_count(root, "mail/sender_listener/inbox") == 1);
        else
            CHECK(st.failed == 1 && tl_count(root, "mail/sender_listener/error") == 1);
    }
    char *reason = NULL;
    OK(hurah_handler_failed_reason(h, 1, &reason, NULL));
    CHECK(reason && strstr(reason, "retry limit") != NULL);
    hurah_string_free(reason);

    /* Retry the failed task: back in inbox with fresh attempts; it succeeds now. */
    uint64_t count = 0;
    OK(hurah_handler_failed_count(h, &count, NULL));
    CHECK(count == 1);
    uint64_t n = 0;
    OK(hurah_handler_failed_retry(h, 1, &n, NULL));
    CHECK(n == 1);
    CHECK(tl_count(root, "mail/sender_listener/error") == 0);
    CHECK(tl_count(root, "mail/sender_listener/inbox") == 1);
    s.outcome = HURAH_SUCCESS;
    OK(hurah_handler_handle(h, &st, NULL));
    CHECK(st.succeeded == 1 && s.attempt == 1 && strcmp(s.payload, "\"hello\"") == 0);

    /* A per-task retry delay puts the task in delayed/. */
    s.outcome = HURAH_RETRY;
    s.retry_delay_ms = 60000;
    dispatch(d, "mail", "2");
    OK(hurah_handler_handle(h, &st, NULL));
    CHECK(st.retried == 1);
    CHECK(tl_count(root, "mail/sender_listener/delayed") == 1);
    OK(hurah_handler_handle(h, &st, NULL));
    CHECK(st.handled == 0);

    hurah_dispatcher_free(d);
    hurah_handler_free(h);

    /* The handler-wide retry delay (options) also goes to delayed/. */
    script s2 = new_script(HURAH_RETRY);
    hurah_options *o = never_fsync();
    hurah_options_set_max_attempts(o, 5);
    hurah_options_set_retry_delay_ms(o, 60000);
    hurah_handler *h2 = NULL;
    OK(hurah_handler_new(root, "mail2", "sender", callback, &s2, o, &h2, NULL));
    hurah_options_free(o);
    hurah_dispatcher *d2 = dispatcher(root);
    dispatch(d2, "mail2", "1");
    OK(hurah_handler_handle(h2, &st, NULL));
    CHECK(st.retried == 1 && tl_count(root, "mail2/sender_listener/delayed") == 1);
    hurah_dispatcher_free(d2);
    hurah_handler_free(h2);

    /* A RETRY that says why keeps its reason when it hits the limit. */
    script s3 = new_script(HURAH_RETRY);
    s3.reason = "smtp busy";
    hurah_handler *h3 = handler(root, "mail3", "sender", &s3, 1);
    hurah_dispatcher *d3 = dispatcher(root);
    dispatch(d3, "mail3", "1");
    OK(hurah_handler_handle(h3, &st, NULL));
    CHECK(st.retried == 1);
    OK(hurah_handler_handle(h3, &st, NULL));
    CHECK(st.failed == 1 && tl_count(root, "mail3/sender_listener/error") == 1);
    reason = NULL;
    OK(hurah_handler_failed_reason(h3, 1, &reason, NULL));
    CHECK(reason && strcmp(reason, "Hit retry limit which is set to: 1. Last attempt: smtp busy") == 0);
    if (reason && strcmp(reason, "Hit retry limit which is set to: 1. Last attempt: smtp busy") != 0)
        fprintf(stderr, "reason: %s\n", reason);
    hurah_string_free(reason);
    hurah_dispatcher_free(d3);
    hurah_handler_free(h3);
}

static void test_failed_operations(const char *root)
{
    script s = new_script(HURAH_FAILURE);
    hurah_handler *h = handler(root, "img", "scaler", &s, 0);
    hurah_dispatcher *d = dispatcher(root);
    for (int i = 0; i < 4; i++)
        dispatch(d, "img", "{}");
    OK(hurah_handler_handle(h, NULL, NULL));

    uint64_t seqs[2] = {0, 0};
    size_t total = 0;
    OK(hurah_handler_failed_list(h, seqs, 2, &total, NULL));
    CHECK(total == 4 && seqs[0] == 1 && seqs[1] == 2);
    OK(hurah_handler_failed_list(h, NULL, 0, &total, NULL));
    CHECK(total == 4);
    CHECK_STATUS(hurah_handler_failed_list(h, NULL, 3, &total, NULL), HURAH_NULL_POINTER);
    CHECK_STATUS(hurah_handler_failed_list(h, seqs, 2, NULL, NULL), HURAH_NULL_POINTER);

    uint64_t n = 99;
    hurah_error *err = NULL;
    CHECK_STATUS(hurah_handler_failed_delete(h, 77, &n, &err), HURAH_NOT_FOUND);
    CHECK(n == 0);
    CHECK_STATUS(hurah_handler_failed_retry(h, 77, &n, &err), HURAH_NOT_FOUND);
    hurah_error_free(err);
    OK(hurah_handler_failed_delete(h, 2, &n, NULL));
    CHECK(n == 1);
    uint64_t count = 0;
    OK(hurah_handler_failed_count(h, &count, NULL));
    CHECK(count == 3);
    CHECK_STATUS(hurah_handler_failed_count(h, NULL, NULL), HURAH_NULL_POINTER);

    /* Retry all: 3 back in inbox, each runs again. */
    OK(hurah_handler_failed_retry(h, HURAH_ALL_TASKS, &n, NULL));
    CHECK(n == 3);
    CHECK(tl_count(root, "img/scaler_listener/inbox") == 3);
    s.outcome = HURAH_SUCCESS;
    hurah_stats st;
    OK(hurah_handler_handle(h, &st, NULL));
    CHECK(st.succeeded == 3);
    OK(hurah_handler_failed_count(h, &count, NULL));
    CHECK(count == 0);

    /* Delete all. */
    s.outcome = HURAH_INVALID;
    dispatch(d, "img", "{}");
    dispatch(d, "img", "{}");
    OK(hurah_handler_handle(h, NULL, NULL));
    OK(hurah_handler_failed_delete(h, HURAH_ALL_TASKS, &n, NULL));
    CHECK(n == 2);
    CHECK(tl_count(root, "img/scaler_listener/error") == 0);
    OK(hurah_handler_failed_delete(h, HURAH_ALL_TASKS, &n, NULL));
    CHECK(n == 0);

    /* A sequence names a task within one listener: another listener's failed task with the
     * same sequence is untouched by this handler's delete and retry. */
    script s2 = new_script(HURAH_FAILURE);
    hurah_handler *other = handler(root, "img2", "scaler", &s2, 0);
    s.outcome = HURAH_FAILURE;
    dispatch(d, "img2", "{}");
    OK(hurah_handler_handle(other, NULL, NULL));
    dispatch(d, "img", "{}");
    OK(hurah_handler_handle(h, NULL, NULL));
    seqs[0] = 0;
    OK(hurah_handler_failed_list(h, seqs, 1, &total, NULL));
    CHECK(total == 1);
    uint64_t other_seq = 0;
    OK(hurah_handler_failed_list(other, &other_seq, 1, &total, NULL));
    CHECK(total == 1 && other_seq == 1);
    OK(hurah_handler_failed_delete(h, seqs[0], &n, NULL));
    CHECK(n == 1);
    CHECK(tl_count(root, "img2/scaler_listener/error") == 1);
    CHECK(seqs[0] != 1);
    CHECK_STATUS(hurah_handler_failed_delete(h, 1, &n, NULL), HURAH_NOT_FOUND);
    CHECK(tl_count(root, "img2/scaler_listener/error") == 1);
    OK(hurah_handler_failed_delete(other, 1, &n, NULL));
    CHECK(n == 1 && tl_count(root, "img2/scaler_listener/error") == 0);
    hurah_handler_free(other);

    hurah_dispatcher_free(d);
    hurah_handler_free(h);
}

static void test_stop_and_busy(const char *root)
{
    hurah_dispatcher *d = dispatcher(root);
    hurah_stats st;
    hurah_error *err = NULL;

    /* The callback calling handle() on its own handler: HURAH_BUSY, the task still succeeds. */
    script s = new_script(HURAH_SUCCESS);
    hurah_handler *h = handler(root, "busy", "w", &s, 0);
    s.recurse = h;
    dispatch(d, "busy", "1");
    OK(hurah_handler_handle(h, &st, NULL));
    CHECK(s.recurse_status == HURAH_BUSY);
    CHECK(st.succeeded == 1);

    /* Stop is sticky: later handle/watch calls return HURAH_STOPPED and run nothing. */
    CHECK(!hurah_handler_is_stopped(h));
    OK(hurah_handler_stop(h));
    OK(hurah_handler_stop(h));
    CHECK(hurah_handler_is_stopped(h));
    dispatch(d, "busy", "2");
    CHECK_STATUS(hurah_handler_handle(h, &st, &err), HURAH_STOPPED);
    CHECK(strstr(hurah_error_message(err), "stopped") != NULL);
    CHECK_STATUS(hurah_handler_watch(h, NULL, &st, &err), HURAH_STOPPED);
    CHECK(st.handled == 0);
    CHECK(s.calls == 1);
    /* Failed-task operations still work on a stopped handler. */
    uint64_t count = 9;
    OK(hurah_handler_failed_count(h, &count, NULL));
    CHECK(count == 0);
    hurah_handler_free(h);

    /* A fresh handler on the same listener picks the task up. */
    script s2 = new_script(HURAH_SUCCESS);
    hurah_handler *h2 = handler(root, "busy", "w", &s2, 0);
    OK(hurah_handler_handle(h2, &st, NULL));
    CHECK(st.succeeded == 1 && strcmp(s2.payload, "2") == 0);
    hurah_handler_free(h2);

    hurah_error_free(err);
    hurah_dispatcher_free(d);
}

static void test_watch_limits(const char *root)
{
    hurah_dispatcher *d = dispatcher(root);
    hurah_stats st;
    script s = new_script(HURAH_SUCCESS);
    hurah_handler *h = handler(root, "w", "limits", &s, 0);
    for (int i = 0; i < 5; i++)
        dispatch(d, "w", "{}");

    /* max_jobs 2 */
    hurah_options *o = hurah_options_new();
    hurah_options_set_max_jobs(o, 2);
    OK(hurah_handler_watch(h, o, &st, NULL));
    CHECK(st.handled == 2 && s.calls == 2);

    /* stop_when_empty: the other 3, then return. */
    hurah_options_set_max_jobs(o, 0);
    hurah_options_set_stop_when_empty(o, true);
    OK(hurah_handler_watch(h, o, &st, NULL));
    CHECK(st.handled == 3 && s.calls == 5);

    /* max_time with nothing to do. */
    hurah_options_set_stop_when_empty(o, false);
    hurah_options_set_max_time_ms(o, 100);
    OK(hurah_handler_watch(h, o, &st, NULL));
    CHECK(st.handled == 0);

    /* A stop from inside the callback takes effect after the current task. */
    for (int i = 0; i < 3; i++)
        dispatch(d, "w", "{}");
    s.stop_self = h;
    hurah_options_set_max_time_ms(o, 10000);
    OK(hurah_handler_watch(h, o, &st, NULL));
    CHECK(st.handled == 1 && s.calls == 6);
    CHECK(tl_count(root, "w/limits_listener/inbox") == 2);
    CHECK(tl_count(root, "w/limits_listener/claimed") == 0);
    CHECK_STATUS(hurah_handler_watch(h, o, &st, NULL), HURAH_STOPPED);

    hurah_options_free(o);
    hurah_handler_free(h);
    hurah_dispatcher_free(d);
}

static int log_lines;

static void log_cb(int level, const char *message, void *user_data)
{
    (void)user_data;
    if (level >= HURAH_LOG_ERROR && level <= HURAH_LOG_DEBUG && message && *message)
        log_lines++;
}

static void test_log_callback_and_root_listener(const char *root)
{
    script s = new_script(HURAH_FAILURE);
    hurah_options *o = never_fsync();
    hurah_options_set_log(o, log_cb, NULL);
    hurah_handler *h = NULL;
    /* "" is the root type: it receives every event. */
    OK(hurah_handler_new(root, "", "auditor", callback, &s, o, &h, NULL));
    hurah_options_free(o);
    hurah_dispatcher *d = dispatcher(root);
    dispatch(d, "deep/er/type", "[1,2]");
    OK(hurah_handler_handle(h, NULL, NULL));
    CHECK(s.calls == 1 && strcmp(s.event_type, "deep/er/type") == 0);
    CHECK(log_lines > 0); /* "Queue has 1 items ..." and the failure warning */
    hurah_dispatcher_free(d);
    hurah_handler_free(h);
}

static void test_dispatch_many(const char *root)
{
    script s = new_script(HURAH_SUCCESS);
    hurah_handler *h = handler(root, "batch", "b", &s, 0);
    hurah_dispatcher *d = dispatcher(root);
    hurah_event ev[3] = {
        {"batch", "1", 1},
        {"batch/sub", "{\"n\":2}", 7},
        {"other", NULL, 0},
    };
    char *ids[3] = {NULL, NULL, NULL};
    OK(hurah_dispatcher_dispatch_many(d, ev, 3, 0, ids, NULL));
    CHECK(ids[0] && ids[1] && ids[2] && strlen(ids[2]) == 30);
    CHECK(ids[0] && ids[1] && strcmp(ids[0], ids[1]) != 0);
    CHECK(tl_count(root, "batch/b_listener/inbox") == 2);
    hurah_stats st;
    OK(hurah_handler_handle(h, &st, NULL));
    CHECK(st.succeeded == 2);
    CHECK(strcmp(s.payload, "{\"n\":2}") == 0 && s.sequence == 2);
    CHECK(ids[1] && strcmp(s.id, ids[1]) == 0);
    for (int i = 0; i < 3; i++)
        hurah_string_free(ids[i]);

    /* A bad event anywhere: nothing written, the error names it, no id to free. */
    hurah_event bad[2] = {{"batch", "1", 1}, {"batch", "{", 1}};
    char *none[2] = {(char *)1, (char *)1};
    hurah_error *err = NULL;
    CHECK_STATUS(hurah_dispatcher_dispatch_many(d, bad, 2, 0, none, &err), HURAH_INVALID_JSON);
    CHECK(err && strstr(hurah_error_message(err), "event #1") != NULL);
    CHECK(none[0] == NULL && none[1] == NULL);
    hurah_event bad_type[1] = {{"../x", "1", 1}};
    CHECK_STATUS(hurah_dispatcher_dispatch_many(d, bad_type, 1, 0, NULL, &err), HURAH_INVALID_EVENT_TYPE);
    CHECK(err && strstr(hurah_error_message(err), "event #0") != NULL);
    hurah_event null_type[1] = {{NULL, "1", 1}};
    CHECK_STATUS(hurah_dispatcher_dispatch_many(d, null_type, 1, 0, NULL, NULL), HURAH_NULL_POINTER);
    CHECK_STATUS(hurah_dispatcher_dispatch_many(d, NULL, 1, 0, NULL, NULL), HURAH_NULL_POINTER);
    CHECK_STATUS(hurah_dispatcher_dispatch_many(NULL, ev, 1, 0, NULL, NULL), HURAH_NULL_POINTER);
    OK(hurah_dispatcher_dispatch_many(d, NULL, 0, 0, NULL, NULL));
    CHECK(tl_count(root, "batch/b_listener/inbox") == 0);

    /* A delay applies to the whole batch. */
    OK(hurah_dispatcher_dispatch_many(d, ev, 2, 60000, NULL, NULL));
    CHECK(tl_count(root, "batch/b_listener/delayed") == 2);
    hurah_error_free(err);
    hurah_dispatcher_free(d);
    hurah_handler_free(h);
}

/* Error kinds reach C as their own statuses: a database that cannot be reached is
 * HURAH_DATABASE (not HURAH_IO) naming the server, and a failed task that does not exist is
 * HURAH_NOT_FOUND. Port 1 on the loopback refuses connections at once. */
static void test_database_and_not_found(const char *root)
{
    static const char *refused = "postgresql://postgres@127.0.0.1:1/hurah";
    hurah_error *err = NULL;
    hurah_dispatcher *d = (hurah_dispatcher *)1;
    CHECK_STATUS(hurah_dispatcher_new(refused, NULL, &d, &err), HURAH_DATABASE);
    CHECK(d == NULL);
    CHECK(hurah_error_status(err) == HURAH_DATABASE);
    CHECK(strstr(hurah_error_message(err), "127.0.0.1:1") != NULL);
    CHECK(strcmp(hurah_status_message(HURAH_DATABASE), "database error") == 0);

    script s = new_script(HURAH_SUCCESS);
    hurah_handler *h = (hurah_handler *)1;
    CHECK_STATUS(hurah_handler_new(refused, "a", "h", callback, &s, NULL, &h, &err), HURAH_DATABASE);
    CHECK(h == NULL);
    CHECK(strstr(hurah_error_message(err), "127.0.0.1:1") != NULL);

    h = handler(root, "nf", "h", &s, 0);
    uint64_t n = 99;
    CHECK_STATUS(hurah_handler_failed_retry(h, 12345, &n, &err), HURAH_NOT_FOUND);
    CHECK(hurah_error_status(err) == HURAH_NOT_FOUND);
    CHECK(strstr(hurah_error_message(err), "12345") != NULL);
    CHECK_STATUS(hurah_handler_failed_delete(h, 12345, &n, &err), HURAH_NOT_FOUND);
    hurah_error_free(err);
    hurah_handler_free(h);
}

int main(void)
{
    char *root = tl_tempdir();
    test_version_and_messages();
    test_options();
    test_dispatcher_errors(root);
    test_handler_errors(root);
    test_success_and_accessors(root);
    test_failure_invalid_unknown(root);
    test_retry_and_max_attempts(root);
    test_failed_operations(root);
    test_stop_and_busy(root);
    test_watch_limits(root);
    test_log_callback_and_root_listener(root);
    test_dispatch_many(root);
    test_database_and_not_found(root);
    tl_rmtree(root);
    free(root);
    return tl_finish();
}

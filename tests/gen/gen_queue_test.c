/*
 * gen_queue_test.c - the generation event queue: order, growth, the
 * poll()able fd tracking emptiness, timeouts, and a producer thread.
 */
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "gen/gen_queue.h"
#include "t.h"

static bool fd_readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void test_fifo_order_and_growth_keep_fd_in_step(void)
{
    gen_queue q;
    chord_err err;
    T_EQ_INT(gen_queue_init(&q, &err), CHORD_OK);
    T_CHECK(!fd_readable(q.efd), "empty queue must not be readable");
    chord_event ev;
    memset(&ev, 0, sizeof ev);
    for (int i = 0; i < 200; i++) {  /* > initial capacity: forces growth */
        ev.token = i;
        snprintf(ev.text, sizeof ev.text, "t%d", i);
        T_CHECK(gen_queue_push(&q, &ev), "push %d", i);
        T_CHECK(fd_readable(q.efd), "fd readable after push %d", i);
        if (i % 3 == 0) {  /* interleave pops so the ring wraps before growing */
            chord_event out;
            T_CHECK(gen_queue_pop(&q, &out, 0), "pop");
        }
    }
    int expect = 0, popped = 0;
    chord_event out;
    while (gen_queue_pop(&q, &out, 0)) {
        /* skip the ones popped above: every i%3==0 took the oldest */
        if (popped == 0)
            expect = out.token;
        else
            T_EQ_INT(out.token, expect);
        char want[16];
        snprintf(want, sizeof want, "t%d", out.token);
        T_EQ_STR(out.text, want);
        expect = out.token + 1;
        popped++;
    }
    T_EQ_INT(popped, 200 - 67);
    T_EQ_INT(expect, 200);
    T_CHECK(!fd_readable(q.efd), "drained queue must not be readable");
    gen_queue_destroy(&q);
}

static void test_pop_timeout_waits_then_gives_up(void)
{
    gen_queue q;
    chord_err err;
    T_EQ_INT(gen_queue_init(&q, &err), CHORD_OK);
    chord_event out;
    double t0 = now_ms();
    T_CHECK(!gen_queue_pop(&q, &out, 50), "nothing to pop");
    double dt = now_ms() - t0;
    T_CHECK(dt >= 45 && dt < 1000, "waited %.1f ms for a 50 ms timeout", dt);
    gen_queue_destroy(&q);
}

static void *producer(void *arg)
{
    gen_queue *q = arg;
    chord_event ev;
    memset(&ev, 0, sizeof ev);
    for (int i = 0; i < 1000; i++) {
        ev.token = i;
        gen_queue_push(q, &ev);
    }
    return NULL;
}

static void test_blocking_reader_sees_every_event_in_order(void)
{
    gen_queue q;
    chord_err err;
    T_EQ_INT(gen_queue_init(&q, &err), CHORD_OK);
    pthread_t th;
    T_EQ_INT(pthread_create(&th, NULL, producer, &q), 0);
    chord_event out;
    int n = 0;
    while (n < 1000 && gen_queue_pop(&q, &out, 5000)) {
        T_EQ_INT(out.token, n);
        n++;
    }
    T_EQ_INT(n, 1000);
    pthread_join(th, NULL);
    T_CHECK(!fd_readable(q.efd), "drained queue must not be readable");
    gen_queue_destroy(&q);
}

int main(void)
{
    test_fifo_order_and_growth_keep_fd_in_step();
    test_pop_timeout_waits_then_gives_up();
    test_blocking_reader_sees_every_event_in_order();
    return t_done();
}

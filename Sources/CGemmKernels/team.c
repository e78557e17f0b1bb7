// A fixed team of threads for work that synchronizes several times per task (the layer-
// synchronous training step: one barrier per layer). The calling thread is member 0; members
// 1..n-1 are threads started once and kept: between tasks they spin briefly, then sleep on a
// condition variable. The barrier spins with `pause`, then yields the CPU (sched_yield), so a
// descheduled member on a loaded machine costs time, never a deadlock. See include/CGemmKernels.h.
#include "CGemmKernels.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define WI_RELAX() _mm_pause()
#else
#define WI_RELAX() ((void)0)
#endif

// Spins before a waiting member yields (barrier, completion) or sleeps (between tasks).
#define WI_SPIN_YIELD 1000
#define WI_SPIN_SLEEP 10000

struct wi_team {
    long n;
    pthread_t *threads;
    long started;
    wi_team_fn fn;
    void *ctx;
    _Atomic unsigned long task;       // bumped by every wi_team_run
    _Atomic long finished;            // members 1..n-1 done with the current task
    _Atomic long arrived;             // barrier
    _Atomic unsigned long generation; // barrier
    _Atomic long sleepers;
    _Atomic int stop;
    pthread_mutex_t mutex;
    pthread_cond_t wake;
};

struct wi_member { struct wi_team *team; long index; };

static void *member_main(void *arg) {
    struct wi_member self = *(struct wi_member *)arg;
    free(arg);
    struct wi_team *t = self.team;
    unsigned long seen = 0;
    for (;;) {
        unsigned long task;
        long spins = 0;
        while ((task = atomic_load_explicit(&t->task, memory_order_acquire)) == seen) {
            if (atomic_load_explicit(&t->stop, memory_order_acquire)) return 0;
            if (++spins < WI_SPIN_SLEEP) { WI_RELAX(); continue; }
            pthread_mutex_lock(&t->mutex);
            atomic_fetch_add(&t->sleepers, 1);
            while (atomic_load(&t->task) == seen && !atomic_load(&t->stop)) pthread_cond_wait(&t->wake, &t->mutex);
            atomic_fetch_sub(&t->sleepers, 1);
            pthread_mutex_unlock(&t->mutex);
            spins = 0;
        }
        if (atomic_load_explicit(&t->stop, memory_order_acquire)) return 0;
        seen = task;
        t->fn(t->ctx, self.index);
        atomic_fetch_add_explicit(&t->finished, 1, memory_order_release);
    }
}

wi_team *wi_team_create(long n) {
    if (n < 1) return 0;
    struct wi_team *t = calloc(1, sizeof *t);
    if (!t) return 0;
    t->n = n;
    pthread_mutex_init(&t->mutex, 0);
    pthread_cond_init(&t->wake, 0);
    if (n > 1) {
        t->threads = calloc((size_t)(n - 1), sizeof(pthread_t));
        if (!t->threads) { wi_team_destroy(t); return 0; }
        for (long i = 1; i < n; i++) {
            struct wi_member *m = malloc(sizeof *m);
            if (!m) { wi_team_destroy(t); return 0; }
            m->team = t; m->index = i;
            if (pthread_create(&t->threads[i - 1], 0, member_main, m) != 0) { free(m); wi_team_destroy(t); return 0; }
            t->started = i;
        }
    }
    return t;
}

void wi_team_destroy(wi_team *t) {
    if (!t) return;
    atomic_store(&t->stop, 1);
    pthread_mutex_lock(&t->mutex);
    pthread_cond_broadcast(&t->wake);
    pthread_mutex_unlock(&t->mutex);
    for (long i = 0; i < t->started; i++) pthread_join(t->threads[i], 0);
    free(t->threads);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->mutex);
    free(t);
}

long wi_team_size(const wi_team *t) { return t ? t->n : 0; }

void wi_team_run(wi_team *t, wi_team_fn fn, void *ctx) {
    if (t->n == 1) { fn(ctx, 0); return; }
    t->fn = fn; t->ctx = ctx;
    atomic_store_explicit(&t->finished, 0, memory_order_relaxed);
    atomic_fetch_add(&t->task, 1);                  // seq_cst: ordered before the sleepers check
    if (atomic_load(&t->sleepers) > 0) {
        pthread_mutex_lock(&t->mutex);
        pthread_cond_broadcast(&t->wake);
        pthread_mutex_unlock(&t->mutex);
    }
    fn(ctx, 0);
    long spins = 0;
    while (atomic_load_explicit(&t->finished, memory_order_acquire) != t->n - 1) {
        if (++spins < WI_SPIN_YIELD) WI_RELAX(); else sched_yield();
    }
}

void wi_team_barrier(wi_team *t) {
    if (t->n == 1) return;
    unsigned long g = atomic_load_explicit(&t->generation, memory_order_acquire);
    if (atomic_fetch_add_explicit(&t->arrived, 1, memory_order_acq_rel) == t->n - 1) {
        atomic_store_explicit(&t->arrived, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&t->generation, 1, memory_order_release);
        return;
    }
    long spins = 0;
    while (atomic_load_explicit(&t->generation, memory_order_acquire) == g) {
        if (++spins < WI_SPIN_YIELD) WI_RELAX(); else sched_yield();
    }
}

void wi_prefetch_range(const void *p, long bytes) {
    const char *c = (const char *)p;
    for (long o = 0; o < bytes; o += 64) __builtin_prefetch(c + o, 0, 2);
    if (bytes > 0) __builtin_prefetch(c + bytes - 1, 0, 2);
}

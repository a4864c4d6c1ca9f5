// A thread pool whose per-job cost is a few atomic operations while its workers are awake.
//
// A job is published by bumping the epoch in `state`. Workers join it with a compare-and-swap
// that also counts them (so the caller knows whom to wait for), claim tasks from `next`, and
// report on `completed` and `left`. When every task is done the caller closes the job (no more
// joins) and waits until every worker that joined has left, so no worker can touch the job
// after `ck_pool_run` returns. Idle workers spin for a while, then sleep on a condition
// variable; the caller only takes the mutex when someone sleeps.

#include "CKernels.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ __volatile__("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

/// Spins (each a pause, roughly 10–100 ns) before an idle worker sleeps: about a millisecond.
#define SPINS_BEFORE_SLEEP 20000

// state = epoch << 32 | joined << 1 | closed
struct ck_pool {
    _Alignas(64) _Atomic uint64_t state;
    _Alignas(64) _Atomic int64_t next;
    _Alignas(64) _Atomic int64_t completed;
    _Alignas(64) _Atomic int32_t left;
    _Alignas(64) _Atomic int32_t sleepers;
    _Atomic int32_t shutdown;
    _Atomic int32_t busy;
    int64_t tasks;
    ck_task_fn fn;
    void *context;
    int32_t threads;
    pthread_t *workers;
    pthread_mutex_t mutex;
    pthread_cond_t wake;
};

typedef struct {
    ck_pool *pool;
    int32_t index;
} worker_start;

static void run_tasks(ck_pool *p, int32_t worker) {
    const int64_t tasks = p->tasks;
    int64_t i;
    while ((i = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed)) < tasks) {
        p->fn(p->context, i, worker);
        atomic_fetch_add_explicit(&p->completed, 1, memory_order_release);
    }
}

static void *worker_main(void *arg) {
    worker_start start = *(worker_start *)arg;
    free(arg);
    ck_pool *p = start.pool;
    uint32_t seen = (uint32_t)(atomic_load(&p->state) >> 32);
    int spins = 0;
    for (;;) {
        uint64_t s = atomic_load_explicit(&p->state, memory_order_acquire);
        if ((uint32_t)(s >> 32) != seen) {
            seen = (uint32_t)(s >> 32);
            // Join unless the caller already closed the job; retry if another worker joined first.
            while (!(s & 1) && (uint32_t)(s >> 32) == seen) {
                if (atomic_compare_exchange_weak_explicit(&p->state, &s, s + 2, memory_order_acq_rel,
                                                          memory_order_acquire)) {
                    run_tasks(p, start.index);
                    atomic_fetch_add_explicit(&p->left, 1, memory_order_release);
                    break;
                }
            }
            spins = 0;
            continue;
        }
        if (atomic_load_explicit(&p->shutdown, memory_order_relaxed)) break;
        if (++spins < SPINS_BEFORE_SLEEP) {
            CPU_RELAX();
            continue;
        }
        pthread_mutex_lock(&p->mutex);
        atomic_fetch_add(&p->sleepers, 1);
        while ((uint32_t)(atomic_load(&p->state) >> 32) == seen && !atomic_load(&p->shutdown))
            pthread_cond_wait(&p->wake, &p->mutex);
        atomic_fetch_sub(&p->sleepers, 1);
        pthread_mutex_unlock(&p->mutex);
        spins = 0;
    }
    return NULL;
}

int32_t ck_cpu_count(void) {
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int32_t)n : 1;
}

ck_pool *ck_pool_create(int32_t threads) {
    ck_pool *p = calloc(1, sizeof(ck_pool));
    if (!p) return NULL;
    p->threads = threads < 1 ? 1 : threads;
    atomic_init(&p->state, 0);
    pthread_mutex_init(&p->mutex, NULL);
    pthread_cond_init(&p->wake, NULL);
    p->workers = calloc((size_t)p->threads, sizeof(pthread_t));
    for (int32_t i = 1; i < p->threads; i++) {
        worker_start *start = malloc(sizeof(worker_start));
        start->pool = p;
        start->index = i;
        if (pthread_create(&p->workers[i], NULL, worker_main, start) != 0) {
            // Fewer workers: the job protocol does not depend on how many join.
            free(start);
            p->threads = i;
            break;
        }
    }
    return p;
}

void ck_pool_destroy(ck_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mutex);
    atomic_store(&p->shutdown, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mutex);
    for (int32_t i = 1; i < p->threads; i++) pthread_join(p->workers[i], NULL);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mutex);
    free(p->workers);
    free(p);
}

void ck_pool_run(ck_pool *p, int64_t tasks, ck_task_fn fn, void *context) {
    if (tasks <= 0) return;
    if (p->threads == 1 || tasks == 1 || atomic_exchange(&p->busy, 1)) {
        // One participant, one task, or a nested/concurrent call: run inline.
        for (int64_t i = 0; i < tasks; i++) fn(context, i, 0);
        return;
    }
    p->tasks = tasks;
    p->fn = fn;
    p->context = context;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->completed, 0, memory_order_relaxed);
    atomic_store_explicit(&p->left, 0, memory_order_relaxed);
    const uint64_t epoch = (atomic_load_explicit(&p->state, memory_order_relaxed) >> 32) + 1;
    atomic_store(&p->state, epoch << 32);  // seq_cst: pairs with the sleepers check below
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mutex);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mutex);
    }
    run_tasks(p, 0);
    int spins = 0;
    while (atomic_load_explicit(&p->completed, memory_order_acquire) < tasks) {
        if (++spins > 4096) { sched_yield(); spins = 0; } else CPU_RELAX();
    }
    const uint64_t s = atomic_fetch_or_explicit(&p->state, 1, memory_order_acq_rel);
    const int32_t joined = (int32_t)((s >> 1) & 0x7FFFFFFF);
    while (atomic_load_explicit(&p->left, memory_order_acquire) < joined) CPU_RELAX();
    atomic_store_explicit(&p->busy, 0, memory_order_release);
}

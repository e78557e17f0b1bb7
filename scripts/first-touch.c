// What does a new page cost before any byte of it is written? Maps BYTES of anonymous memory
// (default 1 GiB), optionally advises transparent huge pages, and writes one byte per 4 KiB page
// from THREADS threads (each its contiguous share): the time is the kernel's page faults and its
// zeroing of the new pages (and, in a VM, the hypervisor's first touch of the guest memory). Then
// memset writes the same, now resident, buffer: the memory bandwidth a fill could reach. The
// difference between the two is the floor a fill into a new buffer pays on top of a fill into an
// old one, whatever the fill does. Used by scripts/first-touch.sh; see README "Fresh buffers".
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static size_t total;
static int threads;
static char *buffer;
static int touchOnly;

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *work(void *argument) {
    long t = (long)argument;
    size_t begin = total / (size_t)threads * (size_t)t;
    size_t end = t == threads - 1 ? total : total / (size_t)threads * (size_t)(t + 1);
    if (touchOnly) {
        for (size_t i = begin; i < end; i += 4096) buffer[i] = 1;
    } else {
        memset(buffer + begin, 2, end - begin);
    }
    return NULL;
}

static double timed(int touch) {
    pthread_t ids[64];
    touchOnly = touch;
    double t0 = seconds();
    for (long t = 0; t < threads; t++) pthread_create(&ids[t], NULL, work, (void *)t);
    for (long t = 0; t < threads; t++) pthread_join(ids[t], NULL);
    return seconds() - t0;
}

int main(int argc, char **argv) {
    total = argc > 1 ? strtoull(argv[1], NULL, 10) : (1ull << 30);
    threads = argc > 2 ? atoi(argv[2]) : 2;
    int rounds = argc > 3 ? atoi(argv[3]) : 3;
    if (total < 4096 || threads < 1 || threads > 64 || rounds < 1) {
        fprintf(stderr, "usage: first-touch [bytes ≥ 4096] [threads 1…64] [rounds ≥ 1]\n");
        return 64;
    }
    printf("%-11s %5s %18s %18s\n", "pages", "round", "new: fault+zero", "resident: memset");
    for (int huge = 0; huge <= 1; huge++) {
        for (int r = 0; r < rounds; r++) {
            buffer = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (buffer == MAP_FAILED) { perror("mmap"); return 1; }
            if (huge && madvise(buffer, total, MADV_HUGEPAGE) != 0) perror("madvise(MADV_HUGEPAGE)");
            double fault = timed(1), set = timed(0);
            printf("%-11s %5d %11.3f s %4.1f GB/s %9.3f s %4.1f GB/s\n", huge ? "huge (THP)" : "4 KiB", r + 1,
                   fault, (double)total / fault / 1e9, set, (double)total / set / 1e9);
            munmap(buffer, total);
        }
    }
    return 0;
}

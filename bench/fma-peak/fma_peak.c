/*
 * The FMA peak of one core: GFLOP/s of independent fused multiply-adds on 512-bit float vectors
 * (16 lanes; 256-bit with -DWIDTH=8), enough independent chains (ACC) to cover the FMA latency
 * on every pipe. Best of TRIALS short trials, so a trial the scheduler gave the whole core sets the
 * figure on a shared machine. Pin it: taskset -c 0 ./fma_peak. The benchmarks' GFLOP/s are
 * compared against this number (issues 15 and 18).
 *
 *   gcc -O2 -march=native -o fma_peak fma_peak.c && taskset -c 0 ./fma_peak
 */
#include <stdio.h>
#include <time.h>

#ifndef WIDTH
#define WIDTH 16
#endif
#define ACC 12
#define ITERS 10000000L
#define TRIALS 15

typedef float vec __attribute__((vector_size(WIDTH * 4)));

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(void) {
    vec acc[ACC], a, b;
    for (int l = 0; l < WIDTH; l++) {
        a[l] = 0.999999f;
        b[l] = 1e-7f;
    }
    for (int k = 0; k < ACC; k++) {
        for (int l = 0; l < WIDTH; l++) {
            acc[k][l] = (float) k;
        }
    }
    vec c0 = acc[0], c1 = acc[1], c2 = acc[2], c3 = acc[3], c4 = acc[4], c5 = acc[5];
    vec c6 = acc[6], c7 = acc[7], c8 = acc[8], c9 = acc[9], c10 = acc[10], c11 = acc[11];
    double best = 0;
    for (int t = 0; t < TRIALS; t++) {
        double t0 = now();
        for (long i = 0; i < ITERS; i++) {
            /* twelve independent chains, one fused multiply-add per lane each, kept in registers */
            c0 = c0 * a + b; c1 = c1 * a + b; c2 = c2 * a + b; c3 = c3 * a + b;
            c4 = c4 * a + b; c5 = c5 * a + b; c6 = c6 * a + b; c7 = c7 * a + b;
            c8 = c8 * a + b; c9 = c9 * a + b; c10 = c10 * a + b; c11 = c11 * a + b;
            __asm__ volatile("" : "+v"(c0), "+v"(c1), "+v"(c2), "+v"(c3), "+v"(c4), "+v"(c5));
            __asm__ volatile("" : "+v"(c6), "+v"(c7), "+v"(c8), "+v"(c9), "+v"(c10), "+v"(c11));
        }
        double s = now() - t0, gflops = 2.0 * WIDTH * ACC * ITERS / s / 1e9;
        if (gflops > best) {
            best = gflops;
        }
    }
    acc[0] = c0; acc[1] = c1; acc[2] = c2; acc[3] = c3; acc[4] = c4; acc[5] = c5;
    acc[6] = c6; acc[7] = c7; acc[8] = c8; acc[9] = c9; acc[10] = c10; acc[11] = c11;
    float sum = 0;
    for (int k = 0; k < ACC; k++) {
        for (int l = 0; l < WIDTH; l++) {
            sum += acc[k][l];
        }
    }
    printf("fma peak: %.1f GFLOP/s (%d-lane vectors, %d chains, best of %d trials; checksum %g)\n", best, WIDTH, ACC, TRIALS, sum);
    return 0;
}

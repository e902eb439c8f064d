// Element-wise kernels of DuoEngine's Ops (exp sums, max, SwiGLU, RMSNorm) and of DuoTraining's
// BackwardOps (SwiGLU, softmax and RMSNorm backward) and AdamW, the packed matrix product of
// PackedWeights and the fused causal attention of LayerKernels.attendHead, compiled for three
// instruction sets and chosen at run time: AVX-512, AVX2 with FMA, or the baseline of the
// architecture; and the spin-wait hint of Parallel's worker team.
// Swift cannot compile a function for an instruction set the whole binary does not target, so
// these are C, header-only (static inline, emitted into the Swift module that imports them;
// nothing to link). The bodies are in kernels_body.h, written once.
#ifndef DUO_CKERNELS_H
#define DUO_CKERNELS_H

typedef float duo_f16 __attribute__((vector_size(64)));
typedef int duo_i16 __attribute__((vector_size(64)));

#define duo_splat(v) ((duo_f16){0} + (float)(v))
#define duo_select(mask, a, b) ((duo_f16)(((mask) & (duo_i16)(a)) | (~(mask) & (duo_i16)(b))))
#define duo_load(p) ({ duo_f16 v_; __builtin_memcpy(&v_, (p), sizeof v_); v_; })
#define duo_store(p, v) ({ duo_f16 v_ = (v); __builtin_memcpy((p), &v_, sizeof v_); })
// The first n (< 16) floats at p in a vector (the other lanes 0), and the first n lanes of v
// stored at p: a row's last partial vector computed in one go rather than lane by lane.
#define duo_load_part(p, n) ({ duo_f16 v_ = duo_splat(0); __builtin_memcpy(&v_, (p), (n) * sizeof(float)); v_; })
#define duo_store_part(p, v, n) ({ duo_f16 v_ = (v); __builtin_memcpy((p), &v_, (n) * sizeof(float)); })
// Whether each lane's index is below n.
#define duo_first_lanes(n) ((duo_i16){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15} < (int)(n))

// The sum of the 16 lanes as a tree (halves added, then their halves, ...): four dependent adds
// rather than fifteen, which a row of a hundred floats would otherwise wait on.
typedef float duo_f8 __attribute__((vector_size(32)));
typedef float duo_f4 __attribute__((vector_size(16)));
#define duo_sum(v)                                                                                                        \
    ({                                                                                                                    \
        duo_f16 v_ = (v);                                                                                                 \
        duo_f8 a_ = __builtin_shufflevector(v_, v_, 0, 1, 2, 3, 4, 5, 6, 7) +                                             \
                    __builtin_shufflevector(v_, v_, 8, 9, 10, 11, 12, 13, 14, 15);                                        \
        duo_f4 b_ = __builtin_shufflevector(a_, a_, 0, 1, 2, 3) + __builtin_shufflevector(a_, a_, 4, 5, 6, 7);            \
        (b_[0] + b_[2]) + (b_[1] + b_[3]);                                                                                \
    })

/// Rows of `scores` that duo_attend needs (its blocks of queries at every level hold at most
/// DUO_GEMM_ROWS rows).
#define DUO_ATTEND_BLOCK_ROWS 8

/// The first key position the query at `position` sees: within `window` positions of it when
/// window > 0, else 0 (causal attention's mask, as transformers builds it).
static inline long duo_first_visible(long position, long window) {
    return window > 0 && position - window + 1 > 0 ? position - window + 1 : 0;
}

/// The instruction sets of the variants: what `duo_simd_detect` returns and the dispatchers take.
enum { DUO_SIMD_BASELINE = 0, DUO_SIMD_AVX2 = 1, DUO_SIMD_AVX512 = 2 };

// The exp helper is always inlined, so its vector argument never crosses a call: no ABI concern.
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wpsabi"

#define DUO_GEMM_ROWS 1
#define DUO_GEMM_CHAIN 1
#define DUO_NAME(name) duo_##name##_baseline
// The baseline's floor: adding and removing 1.5 * 2^23 rounds to the nearest whole number, and a
// lane that went up steps down by one (a true comparison is -1). SSE2 has no rounding instruction
// (the builtin would call libm per lane); SSE4.1 and later round in one instruction, which is also
// much faster on AVX-512 than turning the comparison's mask back into a vector.
#define DUO_FLOOR(t) \
    ({ duo_f16 n_ = ((t) + 12582912.0f) - 12582912.0f; n_ + __builtin_convertvector(n_ > (t), duo_f16); })
#include "kernels_body.h"
#undef DUO_NAME
#undef DUO_FLOOR
#define DUO_FLOOR(t) __builtin_elementwise_floor(t)

#if defined(__x86_64__)
#include <cpuid.h>

// Rows per block of the packed product: their accumulators (2 vectors of 16 floats each) fill the
// registers, 16 of AVX2's 16 (as 2 x 8 floats each: 2 rows) and of AVX-512's 32 (8 rows). Two
// FMA units of 4 cycles' latency need 8 independent sums: 2 rows of accumulators on AVX2, 4 on
// AVX-512 (the chain that blocks of fewer rows make up with several sets over k).
#undef DUO_GEMM_ROWS
#undef DUO_GEMM_CHAIN
#define DUO_GEMM_ROWS 2
#define DUO_GEMM_CHAIN 2
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define DUO_NAME(name) duo_##name##_avx2
#include "kernels_body.h"
#undef DUO_NAME
#pragma clang attribute pop
#undef DUO_GEMM_ROWS
#undef DUO_GEMM_CHAIN
#define DUO_GEMM_ROWS 8
#define DUO_GEMM_CHAIN 4

// AVX-512 loads and stores a row's last partial vector under a lane mask, in one instruction
// (the copies through the stack above cost 10-15% of the fused attention's softmax).
#undef duo_load_part
#undef duo_store_part
#define duo_load_part(p, n) ((duo_f16)__builtin_ia32_loadups512_mask((p), duo_splat(0), (unsigned short)((1u << (n)) - 1)))
#define duo_store_part(p, v, n) __builtin_ia32_storeups512_mask((p), (v), (unsigned short)((1u << (n)) - 1))
#pragma clang attribute push(__attribute__((target("avx2,fma,avx512f,avx512dq"))), apply_to = function)
#define DUO_NAME(name) duo_##name##_avx512
#include "kernels_body.h"
#undef DUO_NAME
#pragma clang attribute pop

/// The best variant this CPU and its operating system support (cpuid, and xgetbv for the
/// register state the OS saves).
static inline int duo_simd_detect(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return DUO_SIMD_BASELINE;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
    if (!(osxsave && avx && fma)) return DUO_SIMD_BASELINE;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0x6) != 0x6) return DUO_SIMD_BASELINE;  // XMM and YMM state
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !((b >> 5) & 1)) return DUO_SIMD_BASELINE;
    int avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1;
    if (avx512f && avx512dq && (lo & 0xE6) == 0xE6) return DUO_SIMD_AVX512;  // + opmask, ZMM state
    return DUO_SIMD_AVX2;
}

#pragma clang diagnostic pop

#define DUO_DISPATCH(level, name, ...)                                                  \
    ((level) == DUO_SIMD_AVX512 ? duo_##name##_avx512(__VA_ARGS__)                      \
     : (level) == DUO_SIMD_AVX2 ? duo_##name##_avx2(__VA_ARGS__)                        \
                                : duo_##name##_baseline(__VA_ARGS__))
#else
#pragma clang diagnostic pop
static inline int duo_simd_detect(void) { return DUO_SIMD_BASELINE; }
#define DUO_DISPATCH(level, name, ...) ((void)(level), duo_##name##_baseline(__VA_ARGS__))
#endif

/// x[i] = e^(x[i] - shift) in place; returns their sum. `level` is a DUO_SIMD_ value the CPU supports.
static inline double duo_exponentiate(int level, float *x, long count, float shift) {
    return DUO_DISPATCH(level, exponentiate, x, count, shift);
}

/// The sum of e^(x[i] - shift), x unchanged.
static inline double duo_sum_exp(int level, const float *x, long count, float shift) {
    return DUO_DISPATCH(level, sum_exp, x, count, shift);
}

/// The largest of `count` values, NaN passed over; -inf when there is none.
static inline float duo_max(int level, const float *x, long count) { return DUO_DISPATCH(level, max, x, count); }

/// The sum of `count` values, in chains independent enough that reading them is the limit.
static inline float duo_read_sum(int level, const float *x, long count) { return DUO_DISPATCH(level, read_sum, x, count); }

/// act[i] = silu(gate[i]) * up[i].
static inline void duo_swiglu(int level, const float *gate, const float *up, float *act, long count) {
    DUO_DISPATCH(level, swiglu, gate, up, act, count);
}

/// SwiGLU's backward: dact (dLoss/dact in, dLoss/dgate out) and du (dLoss/dup out).
static inline void duo_swiglu_backward(int level, float *dact, const float *gate, const float *up, float *du, long count) {
    DUO_DISPATCH(level, swiglu_backward, dact, gate, up, du, count);
}

/// Softmax's backward over one row: dp[i] = p[i] * (dp[i] - sum_j p[j] dp[j]).
static inline void duo_softmax_backward(int level, const float *p, float *dp, long count) {
    DUO_DISPATCH(level, softmax_backward, p, dp, count);
}

/// One AdamW update of `count` parameters (see kernels_body.h).
static inline void duo_adamw(
    int level, float *w, float *m, float *v, const float *g, long count, float scale, float b1, float b2, float decay, float step,
    float c2, float eps) {
    DUO_DISPATCH(level, adamw, w, m, v, g, count, scale, b1, b2, decay, step, c2, eps);
}

/// RMSNorm over `rows` rows: y = x / RMS(x) * w, the inverse RMS of each row into inverse_rms
/// (when not null).
static inline void duo_rms_norm(
    int level, const float *x, const float *w, long rows, long width, float eps, float *y, float *inverse_rms) {
    DUO_DISPATCH(level, rms_norm, x, w, rows, width, eps, y, inverse_rms);
}

/// RMSNorm's backward over `rows` rows: adds dLoss/dx into dx and dLoss/dw into dw.
static inline void duo_rms_norm_backward(
    int level, const float *dy, const float *x, const float *inverse_rms, const float *w, long rows, long width, float *dx,
    float *dw) {
    DUO_DISPATCH(level, rms_norm_backward, dy, x, inverse_rms, w, rows, width, dx, dw);
}

/// Packs `scale` times w [n][k] (one row of k per output, rows `ldw` apart) into panels of 32
/// outputs for duo_gemm_packed: panel p holds, for each k, the weights of outputs 32p ..< 32p + 32
/// (zero past n). `panels` has room for ceil(n / 32) * 32 * k floats.
static inline void duo_pack_panels(const float *w, long ldw, long n, long k, float scale, float *panels) {
    for (long p = 0; p * 32 < n; p++)
        for (long kk = 0; kk < k; kk++)
            for (long j = 0; j < 32; j++)
                panels[(p * k + kk) * 32 + j] = p * 32 + j < n ? w[(p * 32 + j) * ldw + kk] * scale : 0;
}

/// y (+)= x w^T for m rows of x and the outputs of panels first ..< first + count of w packed by
/// duo_pack_panels (n outputs, k inputs; y rows ldy apart), summed over the inputs k_first ..<
/// k_first + k_count only (0 and k for the whole product; a part of the inputs gives a partial
/// sum, as a decode step's cores do). `level` is AVX2 or AVX-512: the baseline variant (one row
/// per block) is there for completeness, not speed.
static inline void duo_gemm_packed(
    int level, const float *x, long ldx, long m, const float *panels, long n, long k, long k_first, long k_count, float *y,
    long ldy, int accumulate, long first, long count) {
    DUO_DISPATCH(level, gemm_packed, x, ldx, m, panels, n, k, k_first, k_count, y, ldy, accumulate, first, count);
}

/// One causal attention head, fused: for the `rows` queries at positions first ..< first + rows
/// (q rows q_stride apart), out = softmax(scale q K^T) V over the keys each query sees (its own
/// position and those before it, and within `window` positions when window > 0), K and V the
/// head's keys and values of positions 0 ..< first + rows (rows kv_stride apart, head_dim
/// columns). `key_panels`: the shared keys packed by duo_pack_panels (k = head_dim, times scale),
/// worth their copy for more than one query; null for dot products with `keys` (times scale) in
/// place (a decode step). With `own_keys` and `own_values` (else null), the queries are instead
/// alternatives for the one position `first` (an oracle tree's prefixes of a token): each sees the
/// shared keys and values of positions 0 ..< first and its own key and value at `first` (row i's
/// at own_keys + i * own_stride), and the shared arrays end at `first`. `probabilities` (or null)
/// receives each query's weights over all its context's keys (first + rows, or first + 1 with
/// own keys; 0 where masked); `scores` is scratch of DUO_ATTEND_BLOCK_ROWS x that context floats.
static inline void duo_attend(
    int level, const float *q, long q_stride, long rows, long first, const float *keys, const float *key_panels, float scale,
    const float *values, long kv_stride, const float *own_keys, const float *own_values, long own_stride, long head_dim,
    long window, float *out, long out_stride, float *probabilities, float *scores) {
    DUO_DISPATCH(
        level, attend, q, q_stride, rows, first, keys, key_panels, scale, values, kv_stride, own_keys, own_values, own_stride,
        head_dim, window, out, out_stride, probabilities, scores);
}

/// A hint to the core that the caller is spinning on a memory location (x86 `pause`).
static inline void duo_spin_pause(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

#endif

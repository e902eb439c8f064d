// The kernels, written once and compiled once per instruction set by kernels.h, which defines
// DUO_NAME(name) (the variant's function name), DUO_FLOOR(v) (the lanes' floor), DUO_GEMM_ROWS
// (rows per block of the packed product) and DUO_GEMM_CHAIN (rows of accumulators that keep the
// FMA units busy) before each inclusion and wraps it in a target
// attribute. Plain C on 16-float vectors: the compiler maps them onto one AVX-512 register, two
// AVX2 registers or four SSE2 registers. The exp mirrors FastMath.exp; the tests check every
// kernel at every level against doubles or a Swift reference.

// e^x for 16 lanes: FastMath.exp's range clamp (NaN stays NaN), the floor (DUO_FLOOR), the
// degree-6 polynomial for 2^f on [0, 1) and the power of two built in the exponent bits.
static inline __attribute__((always_inline)) duo_f16 DUO_NAME(exp)(duo_f16 x) {
    duo_f16 t = x * 1.442695041f;
    t = duo_select(t < -126.0f, duo_splat(-126.0f), t);
    t = duo_select(t > 127.9f, duo_splat(127.9f), t);
    duo_f16 n = DUO_FLOOR(t);
    duo_f16 f = t - n;
    duo_f16 p = duo_splat(2.169060915e-4f);
    p = p * f + 1.244308152e-3f;
    p = p * f + 9.678472554e-3f;
    p = p * f + 5.548352472e-2f;
    p = p * f + 2.402297958e-1f;
    p = p * f + 6.931469871e-1f;
    p = p * f + 1.0f;
    duo_i16 bits = ((duo_i16)(n + 12582912.0f) - (0x4B400000 - 127)) << 23;
    return p * (duo_f16)bits;
}

// x[i] = e^(x[i] - shift) in place; returns their sum (16 float lanes per chunk of 512, chunks
// summed in double).
static inline double DUO_NAME(exponentiate)(float *x, long count, float shift) {
    double total = 0;
    long i = 0;
    while (i < count) {
        long end = count - i > 512 ? i + 512 : count;
        duo_f16 lanes = duo_splat(0);
        for (; i + 16 <= end; i += 16) {
            duo_f16 e = DUO_NAME(exp)(duo_load(x + i) - shift);
            duo_store(x + i, e);
            lanes += e;
        }
        if (i < end) {
            duo_f16 e = DUO_NAME(exp)(duo_load_part(x + i, end - i) - shift);
            duo_store_part(x + i, e, end - i);
            lanes += duo_select(duo_first_lanes(end - i), e, duo_splat(0));
            i = end;
        }
        total += (double)duo_sum(lanes);
    }
    return total;
}

// The sum of e^(x[i] - shift), x unchanged; as exponentiate.
static inline double DUO_NAME(sum_exp)(const float *x, long count, float shift) {
    double total = 0;
    long i = 0;
    while (i < count) {
        long end = count - i > 512 ? i + 512 : count;
        duo_f16 lanes = duo_splat(0);
        for (; i + 16 <= end; i += 16) lanes += DUO_NAME(exp)(duo_load(x + i) - shift);
        if (i < end) {
            lanes += duo_select(duo_first_lanes(end - i), DUO_NAME(exp)(duo_load_part(x + i, end - i) - shift), duo_splat(0));
            i = end;
        }
        total += (double)duo_sum(lanes);
    }
    return total;
}

// The largest of `count` values (NaN values are passed over); -inf for none.
static inline float DUO_NAME(max)(const float *x, long count) {
    duo_f16 lanes = duo_splat(-__builtin_inff());
    long i = 0;
    for (; i + 16 <= count; i += 16) {
        duo_f16 v = duo_load(x + i);
        lanes = duo_select(v > lanes, v, lanes);
    }
    if (i < count) {
        duo_f16 v = duo_select(duo_first_lanes(count - i), duo_load_part(x + i, count - i), duo_splat(-__builtin_inff()));
        lanes = duo_select(v > lanes, v, lanes);
    }
    // The lanes hold no NaN: their largest as a tree of halves.
    duo_f8 a = __builtin_elementwise_max(
        __builtin_shufflevector(lanes, lanes, 0, 1, 2, 3, 4, 5, 6, 7), __builtin_shufflevector(lanes, lanes, 8, 9, 10, 11, 12, 13, 14, 15));
    duo_f4 b = __builtin_elementwise_max(__builtin_shufflevector(a, a, 0, 1, 2, 3), __builtin_shufflevector(a, a, 4, 5, 6, 7));
    float low = b[1] > b[0] ? b[1] : b[0], high = b[3] > b[2] ? b[3] : b[2];
    return high > low ? high : low;
}

// The sum of `count` values in four independent chains of 16 lanes, so that the loads, not the
// adds' latency, set its pace (the read-bandwidth probe of `duoscope bench`).
static inline float DUO_NAME(read_sum)(const float *x, long count) {
    duo_f16 a = duo_splat(0), b = a, c = a, d = a;
    long i = 0;
    for (; i + 64 <= count; i += 64) {
        a += duo_load(x + i);
        b += duo_load(x + i + 16);
        c += duo_load(x + i + 32);
        d += duo_load(x + i + 48);
    }
    for (; i + 16 <= count; i += 16) a += duo_load(x + i);
    if (i < count) b += duo_load_part(x + i, count - i);
    return duo_sum((a + b) + (c + d));
}

// act[i] = silu(gate[i]) * up[i] = gate[i] / (1 + e^-gate[i]) * up[i] (act may be gate).
static inline void DUO_NAME(swiglu)(const float *gate, const float *up, float *act, long count) {
    long i = 0;
    for (; i + 16 <= count; i += 16) {
        duo_f16 g = duo_load(gate + i);
        duo_store(act + i, g * (1.0f / (1.0f + DUO_NAME(exp)(-g))) * duo_load(up + i));
    }
    if (i < count) {
        duo_f16 g = duo_load_part(gate + i, count - i);
        duo_store_part(act + i, g * (1.0f / (1.0f + DUO_NAME(exp)(-g))) * duo_load_part(up + i, count - i), count - i);
    }
}

// SwiGLU's backward: from d = dLoss/dact in `dact`, writes dLoss/dgate over it and dLoss/dup into
// `du`: with s = sigmoid(gate), du = d * gate * s and dgate = d * up * s * (1 + gate * (1 - s)).
static inline void DUO_NAME(swiglu_backward)(float *dact, const float *gate, const float *up, float *du, long count) {
    long i = 0;
    for (; i + 16 <= count; i += 16) {
        duo_f16 g = duo_load(gate + i), d = duo_load(dact + i);
        duo_f16 s = 1.0f / (1.0f + DUO_NAME(exp)(-g));
        duo_store(du + i, d * (g * s));
        duo_store(dact + i, d * duo_load(up + i) * s * (1.0f + g * (1.0f - s)));
    }
    if (i < count) {
        long n = count - i;
        duo_f16 g = duo_load_part(gate + i, n), d = duo_load_part(dact + i, n);
        duo_f16 s = 1.0f / (1.0f + DUO_NAME(exp)(-g));
        duo_store_part(du + i, d * (g * s), n);
        duo_store_part(dact + i, d * duo_load_part(up + i, n) * s * (1.0f + g * (1.0f - s)), n);
    }
}

// One AdamW update of `count` parameters w with moments m, v from gradients g (PyTorch's AdamW,
// decoupled decay): gi = g * scale; m = b1 m + (1 - b1) gi; v = b2 v + (1 - b2) gi^2;
// w = w * decay - step * m / (sqrt(v) * c2 + eps), where c2 = 1 / sqrt(1 - b2^t).
static inline void DUO_NAME(adamw)(
    float *w, float *m, float *v, const float *g, long count, float scale, float b1, float b2, float decay, float step, float c2,
    float eps) {
    long i = 0;
    for (; i + 16 <= count; i += 16) {
        duo_f16 gi = duo_load(g + i) * scale;
        duo_f16 mi = b1 * duo_load(m + i) + (1 - b1) * gi;
        duo_f16 vi = b2 * duo_load(v + i) + (1 - b2) * gi * gi;
        duo_store(m + i, mi);
        duo_store(v + i, vi);
        duo_store(w + i, duo_load(w + i) * decay - step * mi / (__builtin_elementwise_sqrt(vi) * c2 + eps));
    }
    for (; i < count; i++) {
        float gi = g[i] * scale;
        m[i] = b1 * m[i] + (1 - b1) * gi;
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        w[i] = w[i] * decay - step * m[i] / (__builtin_sqrtf(v[i]) * c2 + eps);
    }
}

// The sum of x[i] * y[i] (16 float lanes, then summed).
static inline __attribute__((always_inline)) float DUO_NAME(dot)(const float *x, const float *y, long count) {
    duo_f16 lanes = duo_splat(0);
    long i = 0;
    for (; i + 16 <= count; i += 16) lanes += duo_load(x + i) * duo_load(y + i);
    if (i < count) lanes += duo_load_part(x + i, count - i) * duo_load_part(y + i, count - i);
    return duo_sum(lanes);
}

// scores[j] = scale * (q . keys[j * ld ..]) over head_dim floats, for j < count: 16 keys at a time,
// each key's products summed lane-wise, then the 16 keys' lanes reduced together by halves (a
// transpose: 15 vector adds for 16 dot products, where a tree per product takes 4 that each wait on
// the last). A decode step's query against its cached keys, read in place.
static inline void DUO_NAME(dots)(const float *q, const float *keys, long ld, long head_dim, long count, float scale, float *scores) {
    long j = 0;
    for (; j + 16 <= count; j += 16) {
        const float *k = keys + j * ld;
        duo_f16 a[16];
#pragma clang loop unroll(full)
        for (int t = 0; t < 16; t++) a[t] = duo_splat(0);
        long c = 0;
        for (; c + 16 <= head_dim; c += 16) {
            duo_f16 qc = duo_load(q + c);
#pragma clang loop unroll(full)
            for (int t = 0; t < 16; t++) a[t] += qc * duo_load(k + t * ld + c);
        }
        if (c < head_dim) {
            duo_f16 qc = duo_load_part(q + c, head_dim - c);
#pragma clang loop unroll(full)
            for (int t = 0; t < 16; t++) a[t] += qc * duo_load_part(k + t * ld + c, head_dim - c);
        }
        // Halves: u[i] holds key 2i's 8 partial sums, then key 2i + 1's; v[i] 4 each of keys
        // 4i..4i+3; w[i] 2 each of keys 8i..8i+7; z one each, in order.
        duo_f16 u[8], v[4], w[2];
#pragma clang loop unroll(full)
        for (int i = 0; i < 8; i++)
            u[i] = __builtin_shufflevector(a[2 * i], a[2 * i + 1], 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
                   __builtin_shufflevector(a[2 * i], a[2 * i + 1], 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
#pragma clang loop unroll(full)
        for (int i = 0; i < 4; i++)
            v[i] = __builtin_shufflevector(u[2 * i], u[2 * i + 1], 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27) +
                   __builtin_shufflevector(u[2 * i], u[2 * i + 1], 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
#pragma clang loop unroll(full)
        for (int i = 0; i < 2; i++)
            w[i] = __builtin_shufflevector(v[2 * i], v[2 * i + 1], 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29) +
                   __builtin_shufflevector(v[2 * i], v[2 * i + 1], 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31);
        duo_f16 z = __builtin_shufflevector(w[0], w[1], 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30) +
                    __builtin_shufflevector(w[0], w[1], 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        duo_store(scores + j, z * scale);
    }
    for (; j < count; j++) scores[j] = scale * DUO_NAME(dot)(q, keys + j * ld, head_dim);
}

// Softmax's backward over one row: from the weights p and dLoss/dp in `dp`, writes dLoss/dscore
// over it: dp[i] = p[i] * (dp[i] - sum_j p[j] * dp[j]).
static inline void DUO_NAME(softmax_backward)(const float *p, float *dp, long count) {
    float dot = DUO_NAME(dot)(p, dp, count);
    long i = 0;
    for (; i + 16 <= count; i += 16) duo_store(dp + i, duo_load(p + i) * (duo_load(dp + i) - dot));
    for (; i < count; i++) dp[i] = p[i] * (dp[i] - dot);
}

// RMSNorm over `rows` rows of `width`: y = x * r * w with r = 1 / sqrt(mean(x^2) + eps), the
// squares summed by `dot` in 16 lanes (a scalar sum would wait on one add per element); r goes
// to inverse_rms[row] when inverse_rms is not null (the backward's input). y may be x.
static inline void DUO_NAME(rms_norm)(
    const float *x, const float *w, long rows, long width, float eps, float *y, float *inverse_rms) {
    for (long row = 0; row < rows; row++) {
        const float *xr = x + row * width;
        float *yr = y + row * width;
        float r = 1.0f / __builtin_sqrtf(DUO_NAME(dot)(xr, xr, width) / (float)width + eps);
        if (inverse_rms) inverse_rms[row] = r;
        long i = 0;
        for (; i + 16 <= width; i += 16) duo_store(yr + i, duo_load(xr + i) * r * duo_load(w + i));
        if (i < width) duo_store_part(yr + i, duo_load_part(xr + i, width - i) * r * duo_load_part(w + i, width - i), width - i);
    }
}

// RMSNorm's backward over `rows` rows of `width` (y = x * r * w, r the row's inverse RMS): adds
// dLoss/dx into dx and dLoss/dw into dw.
static inline void DUO_NAME(rms_norm_backward)(
    const float *dy, const float *x, const float *inverse_rms, const float *w, long rows, long width, float *dx, float *dw) {
    for (long row = 0; row < rows; row++) {
        const float *dyr = dy + row * width, *xr = x + row * width;
        float *dxr = dx + row * width;
        float r = inverse_rms[row];
        duo_f16 lanes = duo_splat(0);
        long i = 0;
        for (; i + 16 <= width; i += 16) {
            duo_f16 d = duo_load(dyr + i), v = duo_load(xr + i);
            lanes += d * duo_load(w + i) * v;
            duo_store(dw + i, duo_load(dw + i) + d * v * r);
        }
        float dot = duo_sum(lanes);
        for (; i < width; i++) {
            dot += dyr[i] * w[i] * xr[i];
            dw[i] += dyr[i] * xr[i] * r;
        }
        float k = dot * r * r * r / (float)width;
        for (i = 0; i + 16 <= width; i += 16)
            duo_store(dxr + i, duo_load(dxr + i) + duo_load(dyr + i) * duo_load(w + i) * r - duo_load(xr + i) * k);
        for (; i < width; i++) dxr[i] += dyr[i] * w[i] * r - xr[i] * k;
    }
}

// Rows r (R of them, R <= DUO_GEMM_ROWS) of one packed panel: y[r][j] (+)= sum_k x[r][k] * w[j][k]
// for the panel's `width` (<= 32) outputs; the panel holds, for each k, its 32 outputs' weights,
// `ldp` floats after those of k - 1 (32 when packed; an attention head's values are read in place).
// `partial`: only the panel's first `width` floats of each k may be read (a head's last values
// when head_dim is not a multiple of 32), loaded under a lane mask.
// S sets of accumulators take turns over k: a block of few rows has too few independent sums to
// keep the FMA units busy (their latency is several cycles), so R * S >= DUO_GEMM_CHAIN rows' worth.
// `next` (or null): the next panel, fetched into L2 alongside, so that its first block does not
// wait on L3 or memory (weights used once per pass: 7-19% faster products in a micro-benchmark).
static inline __attribute__((always_inline)) void DUO_NAME(gemm_block)(
    const float *x, long ldx, const float *panel, long ldp, long k, float *y, long ldy, int accumulate, long width,
    const int partial, const int R, const int S, const float *next) {
    // The panel's 32 floats of one k as two vectors.
#define DUO_PANEL_LOAD(w0, w1, at)                                                                             \
    duo_f16 w0, w1;                                                                                            \
    if (!partial) {                                                                                            \
        w0 = duo_load(at);                                                                                     \
        w1 = duo_load((at) + 16);                                                                              \
    } else {                                                                                                   \
        w0 = width >= 16 ? duo_load(at) : duo_load_part(at, width);                                            \
        w1 = width > 16 ? duo_load_part((at) + 16, width - 16) : duo_splat(0);                                 \
    }
    // The loops unrolled in full keep the accumulators in registers (Swift's compilation of
    // this header does not unroll them by itself).
    duo_f16 low[S][R], high[S][R];
#pragma clang loop unroll(full)
    for (int s = 0; s < S; s++)
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++) low[s][i] = high[s][i] = duo_splat(0);
    long kk = 0;
    for (; kk + S <= k; kk += S) {
#pragma clang loop unroll(full)
        for (int s = 0; s < S; s++) {
            if (next) {
                __builtin_prefetch(next + (kk + s) * 32, 0, 2);
                __builtin_prefetch(next + (kk + s) * 32 + 16, 0, 2);
            }
            DUO_PANEL_LOAD(w0, w1, panel + (kk + s) * ldp)
#pragma clang loop unroll(full)
            for (int i = 0; i < R; i++) {
                float v = x[i * ldx + kk + s];
                low[s][i] += v * w0;
                high[s][i] += v * w1;
            }
        }
    }
    for (; kk < k; kk++) {
        DUO_PANEL_LOAD(w0, w1, panel + kk * ldp)
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++) {
            float v = x[i * ldx + kk];
            low[0][i] += v * w0;
            high[0][i] += v * w1;
        }
    }
#pragma clang loop unroll(full)
    for (int s = 1; s < S; s++)
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++) {
            low[0][i] += low[s][i];
            high[0][i] += high[s][i];
        }
#pragma clang loop unroll(full)
    for (int i = 0; i < R; i++) {
        float *yi = y + i * ldy;
        if (width == 32) {
            duo_store(yi, accumulate ? duo_load(yi) + low[0][i] : low[0][i]);
            duo_store(yi + 16, accumulate ? duo_load(yi + 16) + high[0][i] : high[0][i]);
        } else {
            float t[32];
            duo_store(t, low[0][i]);
            duo_store(t + 16, high[0][i]);
            for (long j = 0; j < width; j++) yi[j] = accumulate ? yi[j] + t[j] : t[j];
        }
    }
}

// The block of the last R < DUO_GEMM_ROWS rows, R a constant in each case (for the unrolling).
#define DUO_GEMM_TAIL(R) \
    case R: \
        DUO_NAME(gemm_block)(x, ldx, panel, ldp, k, y, ldy, accumulate, width, partial, R, (DUO_GEMM_CHAIN + R - 1) / R, next); \
        break;
static inline __attribute__((always_inline)) void DUO_NAME(gemm_tail)(
    const float *x, long ldx, long rows, const float *panel, long ldp, long k, float *y, long ldy, int accumulate, long width,
    const int partial, const float *next) {
    switch (rows) {
        DUO_GEMM_TAIL(1)
#if DUO_GEMM_ROWS > 2
        DUO_GEMM_TAIL(2)
        DUO_GEMM_TAIL(3)
        DUO_GEMM_TAIL(4)
        DUO_GEMM_TAIL(5)
        DUO_GEMM_TAIL(6)
        DUO_GEMM_TAIL(7)
#endif
        default: break;
    }
}
#undef DUO_GEMM_TAIL
#undef DUO_PANEL_LOAD

// y[r * ldy + j] (+)= sum_k x[r * ldx + k] * w[j][k] for r < m, the inputs k_first ..< k_first +
// k_count and the outputs of panels first ..< first + count (32 each, the last one cut at n), with
// w packed by duo_pack_panels (k inputs). Panel after panel, each over all rows: the panel (32 x
// k_count floats) stays in cache.
static inline void DUO_NAME(gemm_packed)(
    const float *x, long ldx, long m, const float *panels, long n, long k, long k_first, long k_count, float *y, long ldy,
    int accumulate, long first, long count) {
    x += k_first;
    for (long p = first; p < first + count; p++) {
        const float *panel = panels + p * k * 32 + k_first * 32;
        long width = n - p * 32 < 32 ? n - p * 32 : 32;
        long r = 0;
        const float *next = p + 1 < first + count ? panel + k * 32 : 0;
        for (; r + DUO_GEMM_ROWS <= m; r += DUO_GEMM_ROWS)
            DUO_NAME(gemm_block)(
                x + r * ldx, ldx, panel, 32, k_count, y + r * ldy + p * 32, ldy, accumulate, width, 0, DUO_GEMM_ROWS, 1,
                r == 0 ? next : 0);
        if (r < m)
            DUO_NAME(gemm_tail)(
                x + r * ldx, ldx, m - r, panel, 32, k_count, y + r * ldy + p * 32, ldy, accumulate, width, 0, r == 0 ? next : 0);
    }
}

// x[i] *= factor over `count` floats (a row's last partial vector in one go).
static inline void DUO_NAME(scale)(float *x, long count, float factor) {
    long i = 0;
    for (; i + 16 <= count; i += 16) duo_store(x + i, duo_load(x + i) * factor);
    if (i < count) duo_store_part(x + i, duo_load_part(x + i, count - i) * factor, count - i);
}

// One causal attention head, fused (see duo_attend in kernels.h): queries in blocks of
// DUO_GEMM_ROWS rows. A block's scores go to `scores` [DUO_GEMM_ROWS][context], only for the keys
// from the window's first panel to the block's last row (the masked rest is never computed), are
// turned into weights there and multiplied into the values in place; nothing of size
// rows x context is written unless `probabilities` asks for it. With `own_keys`, every query
// stands at position `first` and its key and value there are its own: the shared keys end at
// `first`, and each row's own score and value take column `first`.
static inline void DUO_NAME(attend)(
    const float *q, long q_stride, long rows, long first, const float *keys, const float *key_panels, float scale,
    const float *values, long kv_stride, const float *own_keys, const float *own_values, long own_stride, long head_dim,
    long window, float *out, long out_stride, float *probabilities, float *scores) {
    _Static_assert(DUO_GEMM_ROWS <= DUO_ATTEND_BLOCK_ROWS, "a block of queries fits the scores' scratch");
    long context = own_keys ? first + 1 : first + rows;
    for (long start = 0; start < rows; start += DUO_GEMM_ROWS) {
        long n = rows - start < DUO_GEMM_ROWS ? rows - start : DUO_GEMM_ROWS;
        // The shared keys the block reads, and the columns its rows have scores in.
        long visible = own_keys ? first : first + start + n;
        long scored = own_keys ? context : visible;
        long from = duo_first_visible(own_keys ? first : first + start, window) / 32 * 32;
        float inverse[DUO_GEMM_ROWS];
        if (key_panels)
            DUO_NAME(gemm_packed)(
                q + start * q_stride, q_stride, n, key_panels, visible, head_dim, 0, head_dim, scores, context, 0, from / 32,
                (visible + 31) / 32 - from / 32);
        else
            for (long i = 0; i < n; i++)
                DUO_NAME(dots)(
                    q + (start + i) * q_stride, keys + from * kv_stride, kv_stride, head_dim, visible - from, scale,
                    scores + i * context + from);
        for (long i = 0; i < n; i++) {
            long position = own_keys ? first : first + start + i;
            long low = duo_first_visible(position, window);
            float *row = scores + i * context;
            if (own_keys) row[first] = scale * DUO_NAME(dot)(q + (start + i) * q_stride, own_keys + (start + i) * own_stride, head_dim);
            // Softmax over the keys this query sees (as Ops.softmax: max, exp, times 1 / sum; without
            // weights to return, the output row is scaled instead: head_dim products, not one per key).
            long count = position + 1 - low;
            float sum = (float)DUO_NAME(exponentiate)(row + low, count, DUO_NAME(max)(row + low, count));
            inverse[i] = 1.0f / sum;
            long j;
            for (j = from; j < low; j++) row[j] = 0;
            for (j = position + 1; j < scored; j++) row[j] = 0;
            if (probabilities) {
                DUO_NAME(scale)(row + low, count, inverse[i]);
                inverse[i] = 1;
                float *p = probabilities + (start + i) * context;
                for (j = 0; j < from; j++) p[j] = 0;
                __builtin_memcpy(p + from, row + from, (scored - from) * sizeof(float));
                for (j = scored; j < context; j++) p[j] = 0;
            }
        }
        // out = weights x values, 32 columns at a time, the values' rows read in place.
        for (long c = 0; c < head_dim; c += 32) {
            const float *panel = values + from * kv_stride + c;
            float *y = out + start * out_stride + c;
            long width = head_dim - c < 32 ? head_dim - c : 32;
            if (n == DUO_GEMM_ROWS && width == 32)
                DUO_NAME(gemm_block)(scores + from, context, panel, kv_stride, visible - from, y, out_stride, 0, 32, 0, DUO_GEMM_ROWS, 1, 0);
            else if (n == DUO_GEMM_ROWS)
                DUO_NAME(gemm_block)(
                    scores + from, context, panel, kv_stride, visible - from, y, out_stride, 0, width, 1, DUO_GEMM_ROWS, 1, 0);
            else if (width == 32)
                DUO_NAME(gemm_tail)(scores + from, context, n, panel, kv_stride, visible - from, y, out_stride, 0, 32, 0, 0);
            else
                DUO_NAME(gemm_tail)(scores + from, context, n, panel, kv_stride, visible - from, y, out_stride, 0, width, 1, 0);
        }
        for (long i = 0; i < n && own_keys; i++) {
            float weight = scores[i * context + first];
            float *y = out + (start + i) * out_stride;
            const float *own = own_values + (start + i) * own_stride;
            long c = 0;
            for (; c + 16 <= head_dim; c += 16) duo_store(y + c, duo_load(y + c) + weight * duo_load(own + c));
            if (c < head_dim)
                duo_store_part(y + c, duo_load_part(y + c, head_dim - c) + weight * duo_load_part(own + c, head_dim - c), head_dim - c);
        }
        for (long i = 0; i < n && !probabilities; i++) DUO_NAME(scale)(out + (start + i) * out_stride, head_dim, inverse[i]);
    }
}

// Fused CPU kernels for diagonal linear recurrences.
//
// 1. LruxScan*: the complex recurrence of the LRU family on stacked [Re | Im] real pairs.
//
//   forward:  h_t = lambda * h_{t-1} + b_t, h_{-1} = h0    (or from the end: reverse != 0)
//   backward: a_t = g_t + conj(lambda) * a_{t+1}           (the adjoint, opposite direction)
//             dlambda = sum_t a_t * conj(h_{t-1})          (fused into the same pass)
//
// Shapes (row-major): lam_re, lam_im (batch, N); h0 (batch, 2N); b, h, g, a (batch, L, 2N);
// grads (batch, N).
// `batch` is every leading axis (vmap adds them); each sequence is one pass over memory.
// Sequences are split over up to `threads` std::threads. Built by lrux/kernels/__init__.py.
//
// 2. LruxLinear*: `lrux.linear_scan`'s h_t = a_t * h_{t-1} + b_t for real or complex T,
//    a constant (batch, S) or time-varying (batch, L, S), initial state h0 (batch, S).
//    backward (JAX's convention for complex values: transposes, no conjugates):
//      lam_t = g_t + a_{t+1} lam_{t+1},  da_t = lam_t h_{t-1} (summed over t when a is
//      constant),  dh0 = a_0 lam_0  (mirrored when reverse != 0).

#include <algorithm>
#include <complex>
#include <cstdint>
#include <thread>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

// b and h may be the same buffer (the scan in place): each step reads b_t before it
// writes h_t, so they carry no __restrict__.
template <typename T>
void ForwardOne(const T* __restrict__ lr, const T* __restrict__ li, const T* __restrict__ h0,
                const T* b, T* h, int64_t L, int64_t N, bool reverse) {
  std::vector<T> state(h0, h0 + 2 * N);
  T* __restrict__ sr = state.data();
  T* __restrict__ si = sr + N;
  for (int64_t s = 0; s < L; ++s) {
    const int64_t t = reverse ? L - 1 - s : s;
    const T* bt = b + t * 2 * N;
    T* ht = h + t * 2 * N;
    for (int64_t n = 0; n < N; ++n) {
      const T br = bt[n], bi = bt[N + n];
      const T r = lr[n] * sr[n] - li[n] * si[n] + br;
      const T i = lr[n] * si[n] + li[n] * sr[n] + bi;
      sr[n] = r;
      si[n] = i;
      ht[n] = r;
      ht[N + n] = i;
    }
  }
}

template <typename T>
void BackwardOne(const T* __restrict__ lr, const T* __restrict__ li, const T* __restrict__ h,
                 const T* __restrict__ g, T* __restrict__ a, T* __restrict__ grad_re,
                 T* __restrict__ grad_im, int64_t L, int64_t N, bool reverse) {
  std::vector<T> state(2 * N, T(0));
  std::vector<double> acc(2 * N, 0.0);
  T* __restrict__ ar = state.data();
  T* __restrict__ ai = ar + N;
  double* __restrict__ gr = acc.data();
  double* __restrict__ gi = gr + N;
  for (int64_t s = 0; s < L; ++s) {
    // The adjoint runs against the forward direction; it pairs with the previous state
    // of the forward recurrence (h_{t-1}, or h_{t+1} when reversed).
    const int64_t t = reverse ? s : L - 1 - s;
    const int64_t prev = reverse ? t + 1 : t - 1;
    const T* __restrict__ gt = g + t * 2 * N;
    T* __restrict__ at = a + t * 2 * N;
    for (int64_t n = 0; n < N; ++n) {
      // conj(lambda) * a_next + g_t
      const T r = lr[n] * ar[n] + li[n] * ai[n] + gt[n];
      const T i = lr[n] * ai[n] - li[n] * ar[n] + gt[N + n];
      ar[n] = r;
      ai[n] = i;
      at[n] = r;
      at[N + n] = i;
    }
    if (prev >= 0 && prev < L) {
      const T* __restrict__ hp = h + prev * 2 * N;
      for (int64_t n = 0; n < N; ++n) {
        const double pr = hp[n], pi = hp[N + n];
        gr[n] += ar[n] * pr + ai[n] * pi;
        gi[n] += ai[n] * pr - ar[n] * pi;
      }
    }
  }
  for (int64_t n = 0; n < N; ++n) {
    grad_re[n] = static_cast<T>(gr[n]);
    grad_im[n] = static_cast<T>(gi[n]);
  }
}

// Run f(i) for i in [0, count) on up to `threads` threads (the caller's thread included),
// fewer when the work is small: starting a thread costs about as much as 64k elements.
template <typename F>
void ParallelFor(int64_t count, int64_t elements, int64_t threads, F f) {
  threads = std::max<int64_t>(1, std::min({threads, count, elements >> 16}));
  if (threads == 1) {
    for (int64_t i = 0; i < count; ++i) f(i);
    return;
  }
  std::vector<std::thread> pool;
  for (int64_t w = 1; w < threads; ++w) {
    try {
      pool.emplace_back([=]() {
        for (int64_t i = w; i < count; i += threads) f(i);
      });
    } catch (...) {  // no thread to be had: this thread does the remaining shares
      break;
    }
  }
  const int64_t started = 1 + static_cast<int64_t>(pool.size());
  for (int64_t w = 0; w < threads; ++w) {
    if (w != 0 && w < started) continue;
    for (int64_t i = w; i < count; i += threads) f(i);
  }
  for (auto& th : pool) th.join();
}

// (batch, N, L) from the shapes, or an error naming what does not fit.
template <typename LamBuffer, typename SeqBuffer>
ffi::Error Dims(const LamBuffer& lam, const SeqBuffer& seq, int64_t* batch, int64_t* n,
                int64_t* length) {
  auto ld = lam.dimensions();
  auto sd = seq.dimensions();
  if (ld.size() < 1 || sd.size() != ld.size() + 1) {
    return ffi::Error::InvalidArgument("lrux scan kernel: expected lambda (..., N) and "
                                       "sequence (..., L, 2N)");
  }
  *n = ld.back();
  *length = sd[sd.size() - 2];
  *batch = 1;
  for (size_t k = 0; k + 1 < ld.size(); ++k) {
    if (ld[k] != sd[k]) {
      return ffi::Error::InvalidArgument("lrux scan kernel: batch axes of lambda and the "
                                         "sequence differ");
    }
    *batch *= ld[k];
  }
  if (sd.back() != 2 * *n) {
    return ffi::Error::InvalidArgument("lrux scan kernel: last axis must be 2N");
  }
  return ffi::Error::Success();
}

template <ffi::DataType DT>
ffi::Error Forward(int64_t reverse, int64_t threads, ffi::Buffer<DT> lr, ffi::Buffer<DT> li,
                   ffi::Buffer<DT> h0, ffi::Buffer<DT> b, ffi::ResultBuffer<DT> h) {
  int64_t batch, n, length;
  if (auto err = Dims(lr, b, &batch, &n, &length); err.failure()) return err;
  if (h0.element_count() != batch * 2 * n) {
    return ffi::Error::InvalidArgument("lrux scan kernel: h0 must be (..., 2N)");
  }
  auto* plr = lr.typed_data();
  auto* pli = li.typed_data();
  auto* p0 = h0.typed_data();
  auto* pb = b.typed_data();
  auto* ph = h->typed_data();
  const int64_t stride = length * 2 * n;
  ParallelFor(batch, batch * stride, threads, [&](int64_t i) {
    ForwardOne(plr + i * n, pli + i * n, p0 + i * 2 * n, pb + i * stride, ph + i * stride,
               length, n, reverse != 0);
  });
  return ffi::Error::Success();
}

template <ffi::DataType DT>
ffi::Error Backward(int64_t reverse, int64_t threads, ffi::Buffer<DT> lr, ffi::Buffer<DT> li,
                    ffi::Buffer<DT> h, ffi::Buffer<DT> g, ffi::ResultBuffer<DT> a,
                    ffi::ResultBuffer<DT> grad_re, ffi::ResultBuffer<DT> grad_im) {
  int64_t batch, n, length;
  if (auto err = Dims(lr, h, &batch, &n, &length); err.failure()) return err;
  auto* plr = lr.typed_data();
  auto* pli = li.typed_data();
  auto* ph = h.typed_data();
  auto* pg = g.typed_data();
  auto* pa = a->typed_data();
  auto* pgr = grad_re->typed_data();
  auto* pgi = grad_im->typed_data();
  const int64_t stride = length * 2 * n;
  ParallelFor(batch, batch * stride, threads, [&](int64_t i) {
    BackwardOne(plr + i * n, pli + i * n, ph + i * stride, pg + i * stride, pa + i * stride,
                pgr + i * n, pgi + i * n, length, n, reverse != 0);
  });
  return ffi::Error::Success();
}

// ---------------------------------------------------------------------------------------
// 2. linear_scan: real or complex T, constant or time-varying a, initial state h0.

template <typename T>
struct Wide {  // accumulator type for sums over time
  using type = double;
};
template <typename R>
struct Wide<std::complex<R>> {
  using type = std::complex<double>;
};

template <typename T>
void LinearForwardOne(const T* __restrict__ a, bool a_varies, const T* __restrict__ b,
                      const T* __restrict__ h0, T* __restrict__ h, int64_t L, int64_t S,
                      bool reverse) {
  std::vector<T> state(h0, h0 + S);
  T* __restrict__ x = state.data();
  for (int64_t s = 0; s < L; ++s) {
    const int64_t t = reverse ? L - 1 - s : s;
    const T* __restrict__ at = a_varies ? a + t * S : a;
    const T* __restrict__ bt = b + t * S;
    T* __restrict__ ht = h + t * S;
    for (int64_t n = 0; n < S; ++n) {
      x[n] = at[n] * x[n] + bt[n];
      ht[n] = x[n];
    }
  }
}

template <typename T>
void LinearBackwardOne(const T* __restrict__ a, bool a_varies, const T* __restrict__ h,
                       const T* __restrict__ h0, const T* __restrict__ g, T* __restrict__ adj,
                       T* __restrict__ grad_a, T* __restrict__ grad_h0, int64_t L, int64_t S,
                       bool reverse) {
  using W = typename Wide<T>::type;
  std::vector<T> carry(S, T(0));
  std::vector<W> acc(a_varies ? 0 : S, W(0));
  T* __restrict__ lam = carry.data();
  for (int64_t s = 0; s < L; ++s) {
    // The adjoint runs against the forward direction: it comes from step `next` and pairs
    // with the forward's previous state (h0 at the forward's first step).
    const int64_t t = reverse ? s : L - 1 - s;
    const int64_t next = reverse ? t - 1 : t + 1;
    const int64_t prev = reverse ? t + 1 : t - 1;
    const T* __restrict__ gt = g + t * S;
    T* __restrict__ lt = adj + t * S;
    if (s == 0) {
      for (int64_t n = 0; n < S; ++n) lam[n] = gt[n];
    } else {
      const T* __restrict__ an = a_varies ? a + next * S : a;
      for (int64_t n = 0; n < S; ++n) lam[n] = gt[n] + an[n] * lam[n];
    }
    for (int64_t n = 0; n < S; ++n) lt[n] = lam[n];
    const T* __restrict__ hp = (prev >= 0 && prev < L) ? h + prev * S : h0;
    if (a_varies) {
      T* __restrict__ gat = grad_a + t * S;
      for (int64_t n = 0; n < S; ++n) gat[n] = lam[n] * hp[n];
    } else {
      for (int64_t n = 0; n < S; ++n) acc[n] += W(lam[n]) * W(hp[n]);
    }
  }
  if (!a_varies) {
    for (int64_t n = 0; n < S; ++n) grad_a[n] = static_cast<T>(acc[n]);
  }
  // The forward's first step is h = a_first h0 + b: dh0 = a_first * lam there.
  const T* __restrict__ a_first = a_varies ? a + (reverse ? L - 1 : 0) * S : a;
  for (int64_t n = 0; n < S; ++n) grad_h0[n] = a_first[n] * lam[n];
}

// (batch, L, S) and whether a varies over time, from h0 (..., S), b (..., L, S), a.
template <typename ABuffer, typename BBuffer, typename HBuffer>
ffi::Error LinearDims(const ABuffer& a, const BBuffer& b, const HBuffer& h0, int64_t* batch,
                      int64_t* length, int64_t* size, bool* a_varies) {
  auto ad = a.dimensions();
  auto bd = b.dimensions();
  auto hd = h0.dimensions();
  if (hd.size() < 1 || bd.size() != hd.size() + 1) {
    return ffi::Error::InvalidArgument("lrux linear scan kernel: expected h0 (..., S) and "
                                       "b (..., L, S)");
  }
  *size = hd.back();
  *length = bd[bd.size() - 2];
  *batch = 1;
  for (size_t k = 0; k + 1 < hd.size(); ++k) *batch *= hd[k];
  if (bd.back() != *size) {
    return ffi::Error::InvalidArgument("lrux linear scan kernel: b and h0 differ in S");
  }
  if (ad.size() == bd.size()) {
    *a_varies = true;
  } else if (ad.size() == hd.size()) {
    *a_varies = false;
  } else {
    return ffi::Error::InvalidArgument("lrux linear scan kernel: a must be (..., S) or "
                                       "(..., L, S)");
  }
  return ffi::Error::Success();
}

template <ffi::DataType DT>
ffi::Error LinearForward(int64_t reverse, int64_t threads, ffi::Buffer<DT> a, ffi::Buffer<DT> b,
                         ffi::Buffer<DT> h0, ffi::ResultBuffer<DT> h) {
  int64_t batch, length, size;
  bool a_varies;
  if (auto err = LinearDims(a, b, h0, &batch, &length, &size, &a_varies); err.failure()) {
    return err;
  }
  const int64_t stride = length * size;
  const int64_t a_stride = a_varies ? stride : size;
  auto* pa = a.typed_data();
  auto* pb = b.typed_data();
  auto* p0 = h0.typed_data();
  auto* ph = h->typed_data();
  ParallelFor(batch, batch * stride, threads, [&](int64_t i) {
    LinearForwardOne(pa + i * a_stride, a_varies, pb + i * stride, p0 + i * size,
                     ph + i * stride, length, size, reverse != 0);
  });
  return ffi::Error::Success();
}

template <ffi::DataType DT>
ffi::Error LinearBackward(int64_t reverse, int64_t threads, ffi::Buffer<DT> a, ffi::Buffer<DT> h,
                          ffi::Buffer<DT> h0, ffi::Buffer<DT> g, ffi::ResultBuffer<DT> adj,
                          ffi::ResultBuffer<DT> grad_a, ffi::ResultBuffer<DT> grad_h0) {
  int64_t batch, length, size;
  bool a_varies;
  if (auto err = LinearDims(a, h, h0, &batch, &length, &size, &a_varies); err.failure()) {
    return err;
  }
  const int64_t stride = length * size;
  const int64_t a_stride = a_varies ? stride : size;
  auto* pa = a.typed_data();
  auto* ph = h.typed_data();
  auto* p0 = h0.typed_data();
  auto* pg = g.typed_data();
  auto* pl = adj->typed_data();
  auto* pga = grad_a->typed_data();
  auto* pg0 = grad_h0->typed_data();
  ParallelFor(batch, batch * stride, threads, [&](int64_t i) {
    LinearBackwardOne(pa + i * a_stride, a_varies, ph + i * stride, p0 + i * size,
                      pg + i * stride, pl + i * stride, pga + i * a_stride, pg0 + i * size,
                      length, size, reverse != 0);
  });
  return ffi::Error::Success();
}

}  // namespace

#define LRUX_FORWARD(NAME, DT)                                                      \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(NAME, Forward<DT>,                                  \
                                ffi::Ffi::Bind()                                    \
                                    .Attr<int64_t>("reverse")                       \
                                    .Attr<int64_t>("threads")                       \
                                    .Arg<ffi::Buffer<DT>>()                         \
                                    .Arg<ffi::Buffer<DT>>()                         \
                                    .Arg<ffi::Buffer<DT>>()                         \
                                    .Arg<ffi::Buffer<DT>>()                         \
                                    .Ret<ffi::Buffer<DT>>());
#define LRUX_BACKWARD(NAME, DT)                                                     \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(NAME, Backward<DT>,                                 \
                                ffi::Ffi::Bind()                                    \
                                    .Attr<int64_t>("reverse")                       \
                                    .Attr<int64_t>("threads")                       \
                                    .Arg<ffi::Buffer<DT>>()                         \
                                    .Arg<ffi::Buffer<DT>>()                         \
                                    .Arg<ffi::Buffer<DT>>()                         \
                                    .Arg<ffi::Buffer<DT>>()                         \
                                    .Ret<ffi::Buffer<DT>>()                         \
                                    .Ret<ffi::Buffer<DT>>()                         \
                                    .Ret<ffi::Buffer<DT>>());

LRUX_FORWARD(LruxScanForwardF32, ffi::F32)
LRUX_FORWARD(LruxScanForwardF64, ffi::F64)
LRUX_BACKWARD(LruxScanBackwardF32, ffi::F32)
LRUX_BACKWARD(LruxScanBackwardF64, ffi::F64)

#define LRUX_LINEAR_FORWARD(NAME, DT)                                               \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(NAME, LinearForward<DT>,                            \
                                ffi::Ffi::Bind()                                    \
                                    .Attr<int64_t>("reverse")                       \
                                    .Attr<int64_t>("threads")                       \
                                    .Arg<ffi::Buffer<DT>>()                         \
                                    .Arg<ffi::Buffer<DT>>()                         \
                                    .Arg<ffi::Buffer<DT>>()                         \
                                    .Ret<ffi::Buffer<DT>>());
#define LRUX_LINEAR_BACKWARD(NAME, DT)                                              \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(NAME, LinearBackward<DT>,                           \
                                ffi::Ffi::Bind()                                    \
                                    .Attr<int64_t>("reverse")                       \
                                    .Attr<int64_t>("threads")                       \
                                    .Arg<ffi::Buffer<DT>>()                         \
                                    .Arg<ffi::Buffer<DT>>()                         \
                                    .Arg<ffi::Buffer<DT>>()                         \
                                    .Arg<ffi::Buffer<DT>>()                         \
                                    .Ret<ffi::Buffer<DT>>()                         \
                                    .Ret<ffi::Buffer<DT>>()                         \
                                    .Ret<ffi::Buffer<DT>>());

LRUX_LINEAR_FORWARD(LruxLinearForwardF32, ffi::F32)
LRUX_LINEAR_FORWARD(LruxLinearForwardF64, ffi::F64)
LRUX_LINEAR_FORWARD(LruxLinearForwardC64, ffi::C64)
LRUX_LINEAR_FORWARD(LruxLinearForwardC128, ffi::C128)
LRUX_LINEAR_BACKWARD(LruxLinearBackwardF32, ffi::F32)
LRUX_LINEAR_BACKWARD(LruxLinearBackwardF64, ffi::F64)
LRUX_LINEAR_BACKWARD(LruxLinearBackwardC64, ffi::C64)
LRUX_LINEAR_BACKWARD(LruxLinearBackwardC128, ffi::C128)

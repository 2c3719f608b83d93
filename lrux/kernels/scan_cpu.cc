// Fused CPU kernels for the complex diagonal recurrence on stacked [Re | Im] pairs.
//
//   forward:  h_t = lambda * h_{t-1} + b_t                 (or from the end: reverse != 0)
//   backward: a_t = g_t + conj(lambda) * a_{t+1}           (the adjoint, opposite direction)
//             dlambda = sum_t a_t * conj(h_{t-1})          (fused into the same pass)
//
// Shapes (row-major): lam_re, lam_im (batch, N); b, h, g, a (batch, L, 2N); grads (batch, N).
// `batch` is every leading axis (vmap adds them); each sequence is one pass over memory.
// Sequences are split over up to `threads` std::threads. Built by lrux/kernels/__init__.py.

#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

template <typename T>
void ForwardOne(const T* __restrict__ lr, const T* __restrict__ li, const T* __restrict__ b,
                T* __restrict__ h, int64_t L, int64_t N, bool reverse) {
  std::vector<T> state(2 * N, T(0));
  T* __restrict__ sr = state.data();
  T* __restrict__ si = sr + N;
  for (int64_t s = 0; s < L; ++s) {
    const int64_t t = reverse ? L - 1 - s : s;
    const T* __restrict__ bt = b + t * 2 * N;
    T* __restrict__ ht = h + t * 2 * N;
    for (int64_t n = 0; n < N; ++n) {
      const T r = lr[n] * sr[n] - li[n] * si[n] + bt[n];
      const T i = lr[n] * si[n] + li[n] * sr[n] + bt[N + n];
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
    pool.emplace_back([=]() {
      for (int64_t i = w; i < count; i += threads) f(i);
    });
  }
  for (int64_t i = 0; i < count; i += threads) f(i);
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
                   ffi::Buffer<DT> b, ffi::ResultBuffer<DT> h) {
  int64_t batch, n, length;
  if (auto err = Dims(lr, b, &batch, &n, &length); err.failure()) return err;
  auto* plr = lr.typed_data();
  auto* pli = li.typed_data();
  auto* pb = b.typed_data();
  auto* ph = h->typed_data();
  const int64_t stride = length * 2 * n;
  ParallelFor(batch, batch * stride, threads, [&](int64_t i) {
    ForwardOne(plr + i * n, pli + i * n, pb + i * stride, ph + i * stride, length, n,
               reverse != 0);
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

}  // namespace

#define LRUX_FORWARD(NAME, DT)                                                      \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(NAME, Forward<DT>,                                  \
                                ffi::Ffi::Bind()                                    \
                                    .Attr<int64_t>("reverse")                       \
                                    .Attr<int64_t>("threads")                       \
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

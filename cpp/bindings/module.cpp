#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "bindings.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <sys/resource.h>
#include <unistd.h>
#endif

#ifndef ISOINIT_VERSION
#define ISOINIT_VERSION "0+unknown"
#endif
#define ISOINIT_CORE_API 8

namespace isoinit::bind {

double available_memory() {
  double bytes = std::numeric_limits<double>::infinity();
#if defined(__unix__) || defined(__APPLE__)
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  if (pages > 0 && page > 0) bytes = static_cast<double>(pages) * static_cast<double>(page);
  rlimit lim{};
  if (getrlimit(RLIMIT_AS, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY)
    bytes = std::min(bytes, static_cast<double>(lim.rlim_cur));
#endif
  return bytes;
}

std::string format_bytes(double bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  int u = 0;
  while (bytes >= 1000 && u < 6) {
    bytes /= 1000;
    ++u;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return buf;
}

void require_memory(double total, const std::string& what) {
  const double have = available_memory();
  if (total <= have) return;
  throw MemoryLimitError(what + " (about " + format_bytes(total) + " in all); this machine has " + format_bytes(have) +
                         " of memory");
}

struct Worker {
  std::mutex mu;
  std::condition_variable cv;
  std::function<void()> job;

  // runs forever (detached): a worker is never destroyed, so no job can outlive its thread
  [[noreturn]] void loop() {
    for (;;) {
      std::function<void()> next;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return static_cast<bool>(job); });
        next = std::move(job);
        job = nullptr;
      }
      next();
    }
  }
};

namespace {

/// The idle workers of this process (guarded by the GIL).
struct WorkerPool {
  std::vector<Worker*> idle;
#if defined(__unix__) || defined(__APPLE__)
  pid_t pid = getpid();
#endif
};

WorkerPool& worker_pool() {
  static auto* pool = new WorkerPool;  // never freed: workers outlive the interpreter's teardown
#if defined(__unix__) || defined(__APPLE__)
  if (pool->pid != getpid()) pool = new WorkerPool;  // a forked child: the parent's threads are not here
#endif
  return *pool;
}

}  // namespace

Worker* acquire_worker() {
  WorkerPool& pool = worker_pool();
  if (!pool.idle.empty()) {
    Worker* w = pool.idle.back();
    pool.idle.pop_back();
    return w;
  }
  auto* w = new Worker;
  std::thread([w] { w->loop(); }).detach();
  return w;
}

void post(Worker* w, std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(w->mu);
    w->job = std::move(job);
  }
  w->cv.notify_one();
}

void release_worker(Worker* w) { worker_pool().idle.push_back(w); }

RowMatrixXd to_matrix(const DoubleArray& a, const char* name) {
  if (a.ndim() != 2)
    throw std::invalid_argument(std::string(name) + " must be 2-D; got ndim=" + std::to_string(a.ndim()));
  RowMatrixXd m(a.shape(0), a.shape(1));
  std::copy(a.data(), a.data() + a.size(), m.data());
  return m;
}

}  // namespace isoinit::bind

PYBIND11_MODULE(_core, m) {
  m.doc() = "isoinit's compiled kernel (private: use the isoinit package)";
  // isoinit/__init__.py refuses a _core whose version or interface level differs from its own
  // (a stale build): bump ISOINIT_CORE_API with every change of the bound functions.
  m.attr("__version__") = ISOINIT_VERSION;
  m.attr("API") = ISOINIT_CORE_API;
  using namespace isoinit::bind;
  // OpenBLAS runs on the calling thread (one network per OpenMP thread, results that do not
  // depend on the thread count) and Eigen's blocking is fixed (results that do not depend on
  // the CPU's caches)
  isoinit::pin_backends();
  if (const char* simd = std::getenv("ISOINIT_SIMD");
      simd && *simd && std::strcmp(simd, "auto") != 0 && std::strcmp(simd, "off") != 0)
    throw py::value_error(std::string("environment variable ISOINIT_SIMD must be 'auto' or 'off'; got '") + simd + "'");
  // MemoryLimitError -> MemoryError with its message; a bare std::bad_alloc (pybind11 already
  // maps it to MemoryError) is given a message that says what ran out
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const MemoryLimitError& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    } catch (const std::bad_alloc&) {
      PyErr_SetString(PyExc_MemoryError,
                      "isoinit ran out of memory (std::bad_alloc in the compiled kernel): use fewer runs, a smaller "
                      "batch or narrower layers");
    }
  });
  register_simulate(m);
  register_metrics(m);
  register_random(m);
  register_activations(m);
  register_inputs(m);
  m.def("build_info", [] {
    py::dict d;
    d["version"] = ISOINIT_VERSION;
#ifdef ISOINIT_HAVE_OPENMP
    d["openmp"] = true;
#else
    d["openmp"] = false;
#endif
    d["max_threads"] = isoinit::resolve_threads(0);  // capped at the processors (omp_get_num_procs)
    d["memory"] = available_memory();
    d["eigen"] = std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) + "." +
                 std::to_string(EIGEN_MINOR_VERSION);
    d["simd"] = std::string(Eigen::SimdInstructionSetsInUse());  // Eigen's, fixed at compile time
#ifdef ISOINIT_HAVE_LAPACK
    d["lapack"] = isoinit::blas::describe();  // factorizations and large products; CPU kernel picked at load time
#else
    d["lapack"] = py::none();  // Eigen's factorizations and the hand-written loops only
#endif
#ifdef ISOINIT_X86_DISPATCH
    // the hand-written loops (Gram, products) pick AVX2 at run time when the CPU has it; the
    // normals AVX-512 (F + DQ), else AVX2
    d["kernels"] = isoinit::detail::have_avx2() ? "avx2" : "baseline";
    {
      const auto path = isoinit::detail::best_normal_path();
      d["normals"] = path == isoinit::detail::NormalPath::avx512 ? "avx512"
                     : path == isoinit::detail::NormalPath::avx2 ? "avx2"
                                                                 : "scalar";
    }
#else
    d["kernels"] = "baseline";
    d["normals"] = "scalar";
#endif
#if defined(__clang__)
    d["compiler"] = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
    d["compiler"] = std::string("gcc ") + __VERSION__;
#else
    d["compiler"] = "unknown";
#endif
    return d;
  });
}

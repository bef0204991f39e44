// Device selection (auto|cpu|cuda[:i]) and the thread pools of the process.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>

namespace robustscope {

// Parses "auto", "cpu", "cuda" or "cuda:i". "auto" picks CUDA device 0 when one is present. Asking
// for CUDA where none is present is an error, not a silent fall back to the CPU.
torch::Device parse_device(const std::string& text);

// The device of one of several processes on a node: "auto" and "cuda" bind process `local_rank`
// to GPU local_rank mod (GPUs present); "cuda:i" and "cpu" are taken as they are.
torch::Device device_for_local_rank(const std::string& text, int local_rank);

// Number of cores this process may run on (its CPU affinity mask, which honours cgroups, taskset
// and SLURM's --cpus-per-task); at least 1.
int available_cores();

struct ThreadSettings {
  int threads = 1;       // LibTorch intra-op and OpenMP threads in force
  int blas_threads = 1;  // always 1: see configure_threads
  std::string blas;      // the BLAS library found, e.g. "OpenBLAS 0.3.21 ... (pthread)"
  std::string warning;   // non-empty when the request was capped
};

// Sets every thread pool the process uses. LibTorch's intra-op pool and OpenMP get `requested`
// threads when positive, else OMP_NUM_THREADS when set, else available_cores(); more than
// available_cores() is capped to it (with a warning). The inter-op pool gets the same count the
// first time (LibTorch fixes it once per process). The BLAS (OpenBLAS, MKL or BLIS, found at run
// time) runs on one thread whatever the request: OpenBLAS's results depend on its own thread count
// (an MLP's ψ moved with OPENBLAS_NUM_THREADS), and LibTorch's threads already parallelise around
// it (a 2-thread BLAS under 2 LibTorch threads was 1.6x slower on 2 cores). OpenMP's count is per
// calling thread: call this on every thread that runs LibTorch work.
ThreadSettings configure_threads(int requested);

// Seeds LibTorch's CPU and CUDA generators (weight initialisation, random starts).
void seed_all(uint64_t seed);

}  // namespace robustscope

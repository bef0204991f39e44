// Device selection (auto|cpu|cuda[:i]) and the intra-op thread count.
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

// Number of cores this process may run on (its CPU affinity mask, which honours cgroups and
// SLURM's --cpus-per-task); at least 1.
int available_cores();

// Sets LibTorch's intra-op threads: `requested` when positive, else OMP_NUM_THREADS when set, else
// available_cores(). Debian's LibTorch otherwise runs on one thread. Returns the count in force.
int configure_threads(int requested);

// Seeds LibTorch's CPU and CUDA generators (weight initialisation, random starts).
void seed_all(uint64_t seed);

}  // namespace robustscope

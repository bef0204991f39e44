// Versions of robustscope and of LibTorch, for provenance records.
#include "core/version.hpp"

#include <torch/version.h>

namespace robustscope {

std::string code_version() { return kCodeVersion; }

std::string libtorch_version() { return TORCH_VERSION; }

}  // namespace robustscope

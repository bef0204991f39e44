// Versions of robustscope and of LibTorch, for provenance records.
#include "core/version.hpp"

#include <ctime>

#include <torch/version.h>

namespace robustscope {

std::string code_version() { return kCodeVersion; }

std::string libtorch_version() { return TORCH_VERSION; }

std::string utc_timestamp() {
  const std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

}  // namespace robustscope

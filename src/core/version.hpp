// Versions of robustscope and of the libraries the core links, for provenance records.
#pragma once

#include <string>

namespace robustscope {

extern const char* const kCodeVersion;  // generated at build time

std::string code_version();      // "0.1.0+<git describe>"
std::string libtorch_version();  // e.g. "1.13.1"

}  // namespace robustscope

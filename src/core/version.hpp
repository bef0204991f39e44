// Versions of robustscope and of the libraries the core links, and timestamps, for provenance
// records.
#pragma once

#include <string>

namespace robustscope {

extern const char* const kCodeVersion;  // generated at build time

std::string code_version();      // "0.1.0+<git describe>"
std::string libtorch_version();  // e.g. "1.13.1"
std::string utc_timestamp();     // now, "2026-11-24T12:00:00Z"

}  // namespace robustscope

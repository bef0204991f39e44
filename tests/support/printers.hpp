// How GoogleTest prints robustscope's enums in test names and failures (instead of raw bytes).
#pragma once

#include <ostream>

#include "core/attack/threat_model.hpp"

namespace robustscope {

inline void PrintTo(Norm norm, std::ostream* out) { *out << norm_names().name(norm); }

}  // namespace robustscope

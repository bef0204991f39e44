// The one exception type of robustscope.
#include "core/error.hpp"

namespace robustscope {

Error::Error(const std::string& where, const std::string& what)
    : std::runtime_error(where.empty() ? what : where + ": " + what), where_(where) {}

Error::Error(const std::string& what) : std::runtime_error(what) {}

}  // namespace robustscope

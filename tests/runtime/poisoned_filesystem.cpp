// A shared library that exports its own std::filesystem::remove_all, as the pip wheels of LibTorch
// export copies built for another ABI: a program that finds this library before libstdc++ calls
// this one (which aborts) instead of the system's.
#include <cstdlib>
#include <filesystem>

namespace std::filesystem {

uintmax_t remove_all(const path&, error_code&) { std::abort(); }

}  // namespace std::filesystem

// The one exception type of robustscope: a message that names where the problem is.
#pragma once

#include <stdexcept>
#include <string>

namespace robustscope {

// Thrown where a problem is found and caught once in main. `where` names the file, key or object
// ("data/train-images-idx3-ubyte", "experiments/demo.yaml:14:9"); `what` says what was wrong and
// what was expected.
class Error : public std::runtime_error {
 public:
  Error(const std::string& where, const std::string& what);
  explicit Error(const std::string& what);

  const std::string& where() const { return where_; }

 private:
  std::string where_;
};

}  // namespace robustscope

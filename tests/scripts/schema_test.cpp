// The Python mirror of the result schema (scripts/robustscope/schema.py) names every constant of
// src/engine/records/schema.hpp with the same text, and nothing else.
#include <gtest/gtest.h>

#include "engine/records/schema.hpp"
#include "support/temp_dir.hpp"

namespace robustscope {
namespace {

TEST(Schema, ThePythonMirrorEqualsTheHeader) {
  if (testing::python().empty()) GTEST_SKIP() << "no Python was found";
  const auto result = testing::run_command(
      testing::python() +
      " -c \"import sys; sys.path.insert(0, '" ROBUSTSCOPE_SOURCE_DIR
      "/scripts'); from robustscope import schema\nfor k, v in sorted(schema.NAMES.items()): "
      "print(k + '=' + v)\"");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  std::string expected;
  for (const auto& [name, text] : schema::all_names()) expected += name + "=" + text + "\n";
  EXPECT_EQ(result.output, expected);
}

}  // namespace
}  // namespace robustscope

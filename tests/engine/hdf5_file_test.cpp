// The HDF5 wrapper and the landscape store: exact round trips and clear refusals.
#include <gtest/gtest.h>

#include <torch/types.h>
#include <algorithm>
#include <filesystem>

#include "engine/records/hdf5_file.hpp"
#include "engine/records/landscape_store.hpp"
#include "engine/records/schema.hpp"
#include "support/temp_dir.hpp"
#include "support/tensor_assertions.hpp"

namespace robustscope {
namespace {

using testing::TempDir;

TEST(Hdf5File, TensorsAndAttributesRoundTripExactly) {
  TempDir dir;
  const torch::Tensor floats = torch::randn({3, 4, 5});
  const torch::Tensor doubles = torch::randn({7}, torch::kFloat64);
  const torch::Tensor integers = torch::arange(-5, 5, torch::kInt64).view({2, 5});
  const torch::Tensor flags = torch::tensor({true, false, true});
  {
    Hdf5File file(dir.file("r.h5"), Hdf5File::Mode::kCreate);
    file.write_tensor("/a/b/floats", floats);
    file.write_tensor("/a/doubles", doubles);
    file.write_tensor("/integers", integers);
    file.write_tensor("/flags", flags);
    file.write_attribute("/", "schema", std::string("test/1"));
    file.write_attribute("/a", "epsilon", 0.3);
    file.write_attribute("/a/b/floats", "count", int64_t{60});
  }
  Hdf5File file(dir.file("r.h5"), Hdf5File::Mode::kReadOnly);
  EXPECT_TENSORS_EQUAL(file.read_tensor("/a/b/floats"), floats);
  EXPECT_TENSORS_EQUAL(file.read_tensor("/a/doubles"), doubles);
  EXPECT_TENSORS_EQUAL(file.read_tensor("/integers"), integers);
  EXPECT_TENSORS_EQUAL(file.read_tensor("/flags"), flags.to(torch::kUInt8));
  EXPECT_EQ(std::get<std::string>(file.read_attribute("/", "schema")), "test/1");
  EXPECT_EQ(std::get<double>(file.read_attribute("/a", "epsilon")), 0.3);
  EXPECT_EQ(std::get<int64_t>(file.read_attribute("/a/b/floats", "count")), 60);
  EXPECT_TRUE(file.exists("/a/b"));
  EXPECT_FALSE(file.exists("/a/c/d"));
}

TEST(Hdf5File, TextIsVariableLengthUtf8AndEmptyTextSurvives) {
  TempDir dir;
  {
    Hdf5File file(dir.file("r.h5"), Hdf5File::Mode::kCreate);
    file.write_attribute("/", "empty", std::string());
    file.write_attribute("/", "unicode", std::string("ε = 0.3, ψ ≥ 0"));
    file.close();
    EXPECT_ERROR_CONTAINING(file.write_attribute("/", "late", 1.0), "");
  }
  const Hdf5File file(dir.file("r.h5"), Hdf5File::Mode::kReadOnly);
  EXPECT_EQ(std::get<std::string>(file.read_attribute("/", "empty")), "");
  EXPECT_EQ(std::get<std::string>(file.read_attribute("/", "unicode")), "ε = 0.3, ψ ≥ 0");
  if (testing::python().empty()) GTEST_SKIP() << "no Python with h5py";
  // h5py reads the text as str, not bytes.
  const auto result = testing::run_command(
      testing::python() + " -c \"import h5py; a = h5py.File('" + dir.file("r.h5") +
      "', 'r').attrs['unicode']; print(type(a).__name__, len(a))\"");
  EXPECT_EQ(result.output, "str 14\n") << result.output;
}

TEST(Hdf5File, RefusesOverwritesAndNamesFileAndObject) {
  TempDir dir;
  Hdf5File file(dir.file("r.h5"), Hdf5File::Mode::kCreate);
  file.write_tensor("/x", torch::zeros({2}));
  EXPECT_ERROR_CONTAINING(file.write_tensor("/x", torch::ones({2})),
                          dir.file("r.h5") + ":/x: already exists");
  EXPECT_ERROR_CONTAINING(file.read_tensor("/missing"), ":/missing: no such dataset");
  EXPECT_ERROR_CONTAINING(Hdf5File(dir.file("r.h5"), Hdf5File::Mode::kCreate),
                          "cannot create the HDF5 file");
}

TEST(Hdf5File, TruncatedAndForeignFilesAreRefused) {
  TempDir dir;
  {
    Hdf5File file(dir.file("r.h5"), Hdf5File::Mode::kCreate);
    file.write_tensor("/big", torch::randn({64, 64}));
  }
  const std::string bytes = testing::read_file(dir.file("r.h5"));
  testing::write_file(dir.file("truncated.h5"), bytes.substr(0, bytes.size() / 3));
  EXPECT_ANY_THROW({
    Hdf5File file(dir.file("truncated.h5"), Hdf5File::Mode::kReadOnly);
    file.read_tensor("/big");
  });
  testing::write_file(dir.file("text.h5"), "not hdf5");
  EXPECT_ERROR_CONTAINING(Hdf5File(dir.file("text.h5"), Hdf5File::Mode::kReadOnly),
                          "cannot open as an HDF5 file");
}

TEST(LandscapeStore, WritesEverySettingAndTheSampleExactly) {
  TempDir dir;
  LandscapeConfig config;
  config.epsilon = 0.25;
  LandscapeResult result;
  result.coordinates_1d = torch::linspace(-0.6, 0.6, 5, torch::kFloat64);
  result.coordinates_2d = torch::linspace(-0.6, 0.6, 3, torch::kFloat64);
  result.cut_adversarial = torch::randn({5, 5});
  result.cut_random = torch::randn({5, 5});
  result.grid = torch::randn({5, 3, 3});
  result.directions = {torch::randn({1, 2, 2}), torch::randn({1, 2, 2})};
  result.boundary_adversarial_positive = 0.125;
  result.boundary_random_negative = std::numeric_limits<double>::infinity();
  Record record;
  add_landscape_file_header(record, {{"model", "m"}});
  add_landscape_settings(record, config);
  add_landscape_sample(record, 42, 7, 7, result);
  write_record_file(dir.file("l.h5"), record);
  EXPECT_FALSE(std::filesystem::exists(dir.file("l.h5.partial")));
  Hdf5File file(dir.file("l.h5"), Hdf5File::Mode::kReadOnly);
  EXPECT_EQ(std::get<std::string>(file.read_attribute("/", "schema")), schema::kLandscape);
  // Numbers are stored as numbers, choices as text.
  EXPECT_EQ(std::get<double>(file.read_attribute("/", "landscape.epsilon")), 0.25);
  EXPECT_EQ(std::get<double>(file.read_attribute("/", "landscape.range")), 0.75);
  EXPECT_EQ(std::get<int64_t>(file.read_attribute("/", "landscape.resolution_2d")), 51);
  EXPECT_EQ(std::get<std::string>(file.read_attribute("/", "landscape.metric.normalization")),
            "standardize");
  EXPECT_EQ(std::get<std::string>(file.read_attribute("/", "quantities")),
            "cross_entropy,decision,probability_margin,divergence,predicted_class");
  EXPECT_FALSE(std::get<std::string>(file.read_attribute("/", "hdf5_version")).empty());
  EXPECT_TENSORS_EQUAL(file.read_tensor("/samples/42/grid"), result.grid);
  EXPECT_TENSORS_EQUAL(file.read_tensor("/samples/42/coordinates_1d"), result.coordinates_1d);
  EXPECT_TENSORS_EQUAL(file.read_tensor("/samples/42/direction_random"), result.directions.random);
  EXPECT_EQ(std::get<double>(file.read_attribute("/samples/42", "boundary_adversarial_positive")),
            0.125);
  EXPECT_TRUE(
      std::isinf(std::get<double>(file.read_attribute("/samples/42", "boundary_random_negative"))));
  EXPECT_EQ(std::get<int64_t>(file.read_attribute("/samples/42", "label")), 7);
  // Uniform sampling: no adaptive settings, no refinement datasets.
  const std::vector<std::string> names = file.attribute_names("/");
  EXPECT_EQ(std::count(names.begin(), names.end(), "landscape.sampling"), 0);
  EXPECT_FALSE(file.exists("/samples/42/refined_points"));
}

TEST(LandscapeStore, AnAdaptiveLandscapeKeepsEachCutsPointsAndTheRefinedGrid) {
  TempDir dir;
  LandscapeConfig config;
  config.set("sampling", "adaptive");
  config.set("boundary_tolerance", "0.002");
  LandscapeResult result;
  result.adaptive = true;
  result.coordinates_1d = torch::linspace(-0.6, 0.6, 5, torch::kFloat64);
  result.coordinates_adversarial = torch::tensor({-0.6, -0.3, 0.0, 0.15, 0.225, 0.3, 0.6});
  result.coordinates_random = result.coordinates_1d;
  result.cut_adversarial = torch::randn({5, 7});
  result.cut_random = torch::randn({5, 5});
  result.coordinates_2d = torch::linspace(-0.6, 0.6, 3, torch::kFloat64);
  result.grid = torch::randn({5, 3, 3});
  result.refined_points = torch::tensor({0.3, 0.0, 0.3, 0.15}, torch::kFloat64).view({2, 2});
  result.refined_grid = torch::randn({5, 2});
  result.directions = {torch::randn({1, 2, 2}), torch::randn({1, 2, 2})};
  Record record;
  add_landscape_file_header(record, {{"model", "m"}});
  add_landscape_settings(record, config);
  add_landscape_sample(record, 3, 1, 1, result);
  write_record_file(dir.file("a.h5"), record);
  Hdf5File file(dir.file("a.h5"), Hdf5File::Mode::kReadOnly);
  EXPECT_EQ(std::get<std::string>(file.read_attribute("/", "landscape.sampling")), "adaptive");
  EXPECT_EQ(std::get<double>(file.read_attribute("/", "landscape.boundary_tolerance")), 0.002);
  EXPECT_TENSORS_EQUAL(file.read_tensor("/samples/3/coordinates_adversarial"),
                       result.coordinates_adversarial);
  EXPECT_TENSORS_EQUAL(file.read_tensor("/samples/3/cut_adversarial"), result.cut_adversarial);
  EXPECT_TENSORS_EQUAL(file.read_tensor("/samples/3/coordinates_random"),
                       result.coordinates_random);
  EXPECT_TENSORS_EQUAL(file.read_tensor("/samples/3/refined_points"), result.refined_points);
  EXPECT_TENSORS_EQUAL(file.read_tensor("/samples/3/refined_grid"), result.refined_grid);
}

}  // namespace
}  // namespace robustscope

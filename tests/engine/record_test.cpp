// Records: exact HDF5 round trip, checksum sensitivity, wire round trip, atomic files.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "engine/store/record.hpp"
#include "support/temp_dir.hpp"

namespace robustscope {
namespace {

using testing::TempDir;

Record sample_record() {
  Record record;
  record.datasets["psi"] = torch::rand({6}, torch::kFloat32);
  record.datasets["broken"] = torch::tensor({true, false, true}).to(torch::kUInt8);
  record.datasets["sample_ids"] = torch::arange(10, 16, torch::kInt64);
  record.datasets["samples/12/grid"] = torch::rand({5, 3, 3}, torch::kFloat64);
  record.set("key", std::string("model=a|metric(epsilon=0.1)|samples=10+6"));
  record.set("seconds", 0.25);
  record.set("shard", int64_t{1});
  record.set("label", int64_t{7}, "samples/12");
  record.set("boundary", std::numeric_limits<double>::infinity(), "samples/12");
  return record;
}

void expect_equal(const Record& a, const Record& b) {
  ASSERT_EQ(a.datasets.size(), b.datasets.size());
  for (const auto& [path, tensor] : a.datasets) {
    ASSERT_TRUE(b.datasets.count(path)) << path;
    EXPECT_EQ(tensor.scalar_type(), b.datasets.at(path).scalar_type()) << path;
    EXPECT_TRUE(torch::equal(tensor, b.datasets.at(path))) << path;
  }
  EXPECT_EQ(a.attributes, b.attributes);
}

TEST(Record, HdfFileRoundTripIsExact) {
  TempDir dir;
  const Record record = sample_record();
  write_record_file(dir.file("r.h5"), record);
  EXPECT_FALSE(std::filesystem::exists(dir.file("r.h5.partial")));
  const Hdf5File file(dir.file("r.h5"), Hdf5File::Mode::kReadOnly);
  expect_equal(record, read_record(file, "/"));
  EXPECT_EQ(std::get<int64_t>(file.read_attribute("/samples/12", "label")), 7);
}

TEST(Record, NestedUnderAGroupOfALargerFile) {
  TempDir dir;
  const Record record = sample_record();
  {
    Hdf5File file(dir.file("r.h5"), Hdf5File::Mode::kCreate);
    write_record(file, "/tasks/abc", record);
    write_record(file, "/tasks/def", record);
  }
  const Hdf5File file(dir.file("r.h5"), Hdf5File::Mode::kReadOnly);
  expect_equal(record, read_record(file, "/tasks/def"));
  ASSERT_EQ(file.children("/tasks").size(), 2u);
  EXPECT_EQ(file.children("/tasks")[0].name, "abc");
  EXPECT_TRUE(file.children("/tasks")[0].is_group);
}

TEST(Record, ChecksumSeesEveryByteAndNameButNotAttributes) {
  const Record record = sample_record();
  const std::string checksum = record_checksum(record);
  EXPECT_EQ(checksum.size(), 16u);
  Record changed = sample_record();
  changed.datasets = record.datasets;
  EXPECT_EQ(record_checksum(changed), checksum);
  changed.set("seconds", 9.0);
  EXPECT_EQ(record_checksum(changed), checksum);  // where and how long it ran does not matter
  changed.datasets["psi"] = record.datasets.at("psi").clone();
  changed.datasets["psi"][3] = std::nextafter(changed.datasets["psi"][3].item<float>(), 2.0f);
  EXPECT_NE(record_checksum(changed), checksum);
  changed.datasets["psi"] = record.datasets.at("psi");
  changed.datasets["psi2"] = changed.datasets["psi"];
  changed.datasets.erase("psi");
  EXPECT_NE(record_checksum(changed), checksum);
  // A bool tensor checksums like the uint8 HDF5 gives back.
  Record boolean;
  boolean.datasets["b"] = torch::tensor({true, false});
  Record bytes;
  bytes.datasets["b"] = torch::tensor({1, 0}, torch::kUInt8);
  EXPECT_EQ(record_checksum(boolean), record_checksum(bytes));
}

TEST(Record, WireRoundTripIsExactAndTruncationIsRefused) {
  const Record record = sample_record();
  const std::vector<char> bytes = serialize_record(record);
  expect_equal(record, deserialize_record(bytes));
  for (size_t cut : {size_t{0}, size_t{3}, bytes.size() / 2, bytes.size() - 1}) {
    EXPECT_ERROR_CONTAINING(
        deserialize_record(std::vector<char>(bytes.begin(), bytes.begin() + cut)), "record bytes");
  }
  std::vector<char> longer = bytes;
  longer.push_back('x');
  EXPECT_ERROR_CONTAINING(deserialize_record(longer), "trailing bytes");
}

TEST(Record, TypedAccessNamesTheMissingAttribute) {
  const Record record = sample_record();
  EXPECT_EQ(record.integer("shard"), 1);
  EXPECT_ERROR_CONTAINING(record.text("status"), "record attribute status: missing");
  EXPECT_ERROR_CONTAINING(record.text("shard"), "is not text");
}

}  // namespace
}  // namespace robustscope

// Records: exact HDF5 round trip, checksum sensitivity, atomic files.
#include <gtest/gtest.h>
#include <torch/types.h>

#include <filesystem>

#include "engine/records/record.hpp"
#include "support/temp_dir.hpp"
#include "support/tensor_assertions.hpp"

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
    EXPECT_TENSORS_EQUAL(tensor, b.datasets.at(path)) << path;
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

TEST(Record, AFailedWriteLeavesTheOldFileAndNoPartial) {
  TempDir dir;
  const Record record = sample_record();
  write_record_file(dir.file("r.h5"), record);
  const std::string before = testing::read_file(dir.file("r.h5"));
  // A record whose dataset HDF5 cannot store fails half-way through the write.
  Record bad = sample_record();
  bad.datasets["complex"] = torch::zeros({2}, torch::kInt16);
  EXPECT_ERROR_CONTAINING(write_record_file(dir.file("r.h5"), bad), "cannot store tensors");
  EXPECT_FALSE(std::filesystem::exists(dir.file("r.h5.partial")));
  EXPECT_EQ(testing::read_file(dir.file("r.h5")), before);
}

TEST(Record, TypedAccessNamesTheMissingAttribute) {
  const Record record = sample_record();
  EXPECT_EQ(record.integer("shard"), 1);
  EXPECT_ERROR_CONTAINING(record.text("status"), "record attribute status: missing");
  EXPECT_ERROR_CONTAINING(record.text("shard"), "is not text");
  EXPECT_ERROR_CONTAINING(record.number("label", "samples/12"),
                          "samples/12/label: is not a number");
  EXPECT_EQ(record.integer("label", "samples/12"), 7);
  EXPECT_ERROR_CONTAINING(record.dataset("psi2"), "record dataset psi2: missing");
}

}  // namespace
}  // namespace robustscope

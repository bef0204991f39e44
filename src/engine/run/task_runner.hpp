// Runs one planned task on this process's device and returns its Record. Knows nothing of MPI: the
// coordinator's local worker thread and every worker rank use it alike. Keeps the last model and
// the loaded data sets, so consecutive tasks of one model load it once.
#pragma once

#include <torch/types.h>

#include <map>
#include <memory>
#include <string>

#include "core/data/dataset.hpp"
#include "core/models/classifier.hpp"
#include "engine/spec/experiment_spec.hpp"
#include "engine/store/record.hpp"

namespace robustscope {

class TaskRunner {
 public:
  TaskRunner(const ExperimentSpec& spec, torch::Device device);

  // Never throws for a task's own failure: the Record then has status "failed" and the message.
  Record run(const Task& task);

  int64_t models_loaded() const { return models_loaded_; }

 private:
  Record compute(const Task& task);
  Classifier& model(size_t index);
  const Dataset& dataset(const std::string& name);

  const ExperimentSpec& spec_;
  torch::Device device_;
  size_t model_index_ = static_cast<size_t>(-1);
  std::unique_ptr<Classifier> model_;
  int64_t models_loaded_ = 0;
  std::map<std::string, Dataset> datasets_;
};

// The attributes every task Record carries besides its results (key, setting, shard, seed, …).
void add_task_attributes(Record& record, const ExperimentSpec& spec, const Task& task);

}  // namespace robustscope

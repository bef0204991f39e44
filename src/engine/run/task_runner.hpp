// Runs one planned task on this process's device and returns its Record. Knows nothing of MPI: the
// coordinator's local worker thread and every worker rank use it alike. Keeps the models it loaded
// (the task's model and a transfer substitute) and the data sets, so consecutive tasks of one model
// load it once.
#pragma once

#include <torch/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "core/data/dataset.hpp"
#include "core/models/classifier.hpp"
#include "engine/records/record.hpp"
#include "engine/spec/task_plan.hpp"

namespace robustscope {

class TaskRunner {
 public:
  TaskRunner(const ExperimentSpec& spec, torch::Device device);

  // Never throws for a task's own failure: the Record then has status "failed" and the message.
  Record run(const Task& task);

  // The model of spec.models[index], loaded (and reparameterised) on this runner's device.
  Classifier& model(size_t index);
  // The split of the spec's selection for `dataset`, loaded once.
  const Dataset& dataset(const std::string& name);
  int64_t models_loaded() const { return models_loaded_; }

 private:
  void compute(const Task& task, Record& record);

  const ExperimentSpec& spec_;
  torch::Device device_;
  std::map<size_t, std::unique_ptr<Classifier>> models_;  // at most two: a model, a substitute
  std::vector<size_t> model_use_order_;
  int64_t models_loaded_ = 0;
  std::map<std::string, Dataset> datasets_;
};

// The attributes every task Record carries besides its results (key, setting, shard, seed, …).
void add_task_attributes(Record& record, const ExperimentSpec& spec, const Task& task);

// Loads a model of the spec as every task sees it: checked against its data set, reparameterised.
std::unique_ptr<Classifier> load_spec_model(const ModelSpec& model, torch::Device device);

// `batch_size: auto`: gives each model the batch size `recorded` (an earlier run's model
// resolution) holds for the same model file, so a resumed run keeps its tasks; else the largest
// divisor of shard_size within batch_memory_mib, measured on the CPU
// (core/models/batch_memory.hpp). Models whose file does not exist yet (`plan` before `prepare`)
// stay unresolved. Nothing for a numeric batch_size. `log` hears one line per measured model.
void resolve_batch_sizes(ExperimentSpec& spec, const Record& recorded,
                         const std::function<void(const std::string&)>& log);

}  // namespace robustscope

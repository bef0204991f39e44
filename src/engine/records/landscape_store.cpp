// Landscape results as Records.
#include "engine/records/landscape_store.hpp"

#include <torch/types.h>

#include "core/version.hpp"

namespace robustscope {

void add_landscape_settings(Record& record, const LandscapeConfig& config) {
  std::string quantities;
  for (const auto& name : landscape_quantities())
    quantities += (quantities.empty() ? "" : ",") + name;
  record.set(schema::kQuantities, quantities);
  for (const auto& [key, value] : config.entries())
    record.set(schema::kLandscapeSettingPrefix + key, value);
}

void add_landscape_file_header(Record& record,
                               const std::map<std::string, std::string>& provenance) {
  record.set(schema::kSchema, std::string(schema::kLandscape));
  record.set(schema::kCodeVersion, code_version());
  record.set(schema::kLibtorchVersion, libtorch_version());
  record.set(schema::kHdf5Version, hdf5_version());
  for (const auto& [key, value] : provenance) record.set(key, value);
}

void add_landscape_sample(Record& record, int64_t sample_id, int64_t label, int64_t clean_class,
                          const LandscapeResult& result) {
  const std::string group = "samples/" + std::to_string(sample_id);
  record.datasets[group + "/coordinates_1d"] = result.coordinates_1d;
  record.datasets[group + "/cut_adversarial"] = result.cut_adversarial;
  record.datasets[group + "/cut_random"] = result.cut_random;
  record.datasets[group + "/coordinates_2d"] = result.coordinates_2d;
  record.datasets[group + "/grid"] = result.grid;
  record.datasets[group + "/direction_adversarial"] = result.directions.adversarial;
  record.datasets[group + "/direction_random"] = result.directions.random;
  if (result.adaptive) {
    // Adaptive sampling: each cut's own points, and the points added to the grid near S = 0.
    record.datasets[group + "/coordinates_adversarial"] = result.coordinates_adversarial;
    record.datasets[group + "/coordinates_random"] = result.coordinates_random;
    record.datasets[group + "/refined_points"] = result.refined_points;
    record.datasets[group + "/refined_grid"] = result.refined_grid;
  }
  const std::map<std::string, AttributeValue> attributes = {
      {"sample_id", sample_id},
      {"label", label},
      {"clean_class", clean_class},
      {schema::kBoundaryAdversarialPositive, result.boundary_adversarial_positive},
      {"boundary_adversarial_negative", result.boundary_adversarial_negative},
      {"boundary_random_positive", result.boundary_random_positive},
      {"boundary_random_negative", result.boundary_random_negative},
      {"correct_fraction_within_epsilon", result.correct_fraction_within_epsilon},
      {"mean_abs_slope", result.mean_abs_slope},
      {"forward_passes", result.forward_passes},
      {"forward_backward_passes", result.forward_backward_passes}};
  for (const auto& [name, value] : attributes) record.set(name, value, group);
}

}  // namespace robustscope

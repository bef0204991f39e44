// Landscape results in HDF5.
#include "engine/store/landscape_store.hpp"

#include <torch/torch.h>

#include "core/version.hpp"

namespace robustscope {

void write_landscape_header(Hdf5File& file, const LandscapeConfig& config,
                            const std::map<std::string, std::string>& provenance) {
  file.write_attribute("/", "schema", std::string(kLandscapeSchema));
  file.write_attribute("/", "code_version", code_version());
  file.write_attribute("/", "libtorch_version", libtorch_version());
  file.write_attribute("/", "hdf5_version", hdf5_version());
  std::string quantities;
  for (const auto& name : landscape_quantities())
    quantities += (quantities.empty() ? "" : ",") + name;
  file.write_attribute("/", "quantities", quantities);
  for (const auto& [key, value] : config.to_entries())
    file.write_attribute("/", "landscape." + key, value);
  for (const auto& [key, value] : provenance) file.write_attribute("/", key, value);
}

void write_landscape_sample(Hdf5File& file, int64_t sample_id, int64_t label, int64_t clean_class,
                            const LandscapeResult& result) {
  const std::string group = "/samples/" + std::to_string(sample_id);
  file.write_tensor(group + "/coordinates_1d", result.coordinates_1d);
  file.write_tensor(group + "/cut_adversarial", result.cut_adversarial);
  file.write_tensor(group + "/cut_random", result.cut_random);
  file.write_tensor(group + "/coordinates_2d", result.coordinates_2d);
  file.write_tensor(group + "/grid", result.grid);
  file.write_tensor(group + "/direction_adversarial", result.directions.adversarial);
  file.write_tensor(group + "/direction_random", result.directions.random);
  const std::map<std::string, AttributeValue> attributes = {
      {"sample_id", sample_id},
      {"label", label},
      {"clean_class", clean_class},
      {"boundary_adversarial_positive", result.boundary_adversarial_positive},
      {"boundary_adversarial_negative", result.boundary_adversarial_negative},
      {"boundary_random_positive", result.boundary_random_positive},
      {"boundary_random_negative", result.boundary_random_negative},
      {"correct_fraction_within_epsilon", result.correct_fraction_within_epsilon},
      {"mean_abs_slope", result.mean_abs_slope},
      {"forward_passes", result.forward_passes},
      {"forward_backward_passes", result.forward_backward_passes}};
  for (const auto& [name, value] : attributes) file.write_attribute(group, name, value);
  file.flush();
}

}  // namespace robustscope

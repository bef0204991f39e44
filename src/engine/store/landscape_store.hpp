// Landscape results in HDF5 (schema in docs/hdf5-landscape.md): one group per sample with its cuts,
// grid, directions and derived numbers, every setting as an attribute, provenance at the root.
#pragma once

#include <map>
#include <string>

#include "core/landscape/landscape.hpp"
#include "engine/store/hdf5_file.hpp"

namespace robustscope {

constexpr const char* kLandscapeSchema = "robustscope-landscape/1";

// Root attributes: schema, versions, and the caller's provenance entries (model, data set, …).
void write_landscape_header(Hdf5File& file, const LandscapeConfig& config,
                            const std::map<std::string, std::string>& provenance);

void write_landscape_sample(Hdf5File& file, int64_t sample_id, int64_t label, int64_t clean_class,
                            const LandscapeResult& result);

}  // namespace robustscope

// Landscape results as Records (schema in docs/landscapes.md): one group per sample with its cuts,
// grid, directions and derived numbers; every setting and the provenance as attributes. The
// landscape command writes such a Record as a file, the batch engine as a task.
#pragma once

#include <map>
#include <string>

#include "core/landscape/landscape.hpp"
#include "engine/records/record.hpp"
#include "engine/records/schema.hpp"

namespace robustscope {

// The settings as attributes of the record's own group ("landscape.<key>"), with the quantity
// names.
void add_landscape_settings(Record& record, const LandscapeConfig& config);

// The group "samples/<sample_id>" of one sample.
void add_landscape_sample(Record& record, int64_t sample_id, int64_t label, int64_t clean_class,
                          const LandscapeResult& result);

// Schema, versions and the caller's provenance entries (model, data set, …) for a landscape file.
void add_landscape_file_header(Record& record,
                               const std::map<std::string, std::string>& provenance);

}  // namespace robustscope

// The certify procedure: ψ's certified upper bound and certified robust accuracy per sample.
#include <torch/types.h>

#include "engine/procedures/procedures.hpp"
#include "engine/records/schema.hpp"

namespace robustscope {

SettingEntries CertifyProcedure::entries() const { return config.entries(); }

PassCount CertifyProcedure::cost() const {
  // Every data set robustscope reads has 10 classes (an estimate only: it orders the schedule).
  return {certify_cost(config, 10), 0};
}

void CertifyProcedure::run(TaskContext& context, Record& record) const {
  const Dataset& data = context.data;
  std::vector<torch::Tensor> psi, certified, margin, classes;
  const Batches batches(data, context.batch_size, context.device);
  double forward = 0;
  for (int64_t b = 0; b < batches.count(); ++b) {
    const Batch batch = batches[b];
    const CertifyResult result = certify(context.model, batch.images, batch.labels, config);
    psi.push_back(result.psi_upper);
    certified.push_back(result.certified);
    margin.push_back(result.margin_lower);
    classes.push_back(result.clean_class);
    forward += result.forward_equivalents;
  }
  record.datasets[schema::kPsiUpper] = torch::cat(psi);
  record.datasets[schema::kCertified] = torch::cat(certified);
  record.datasets[schema::kMarginLower] = torch::cat(margin);
  record.datasets[schema::kCleanClass] = torch::cat(classes);
  record.datasets[schema::kCleanCorrect] = torch::cat(classes).eq(data.labels);
  context.forward_passes += static_cast<int64_t>(forward);
}

Headline CertifyProcedure::headline(const Record& record) {
  return {{schema::kPsiUpperMean, mean_of(record.dataset(schema::kPsiUpper))},
          {schema::kCertifiedAccuracy, mean_of(record.dataset(schema::kCertified))},
          {schema::kCleanAccuracy, mean_of(record.dataset(schema::kCleanCorrect))}};
}

std::vector<std::string> CertifyProcedure::headline_names() {
  return {schema::kPsiUpperMean, schema::kCertifiedAccuracy, schema::kCleanAccuracy};
}

std::string CertifyProcedure::label() const {
  return "certified (" + bound_method_names().name(config.method) + ") " +
         normalization_names().name(config.normalization) + " " +
         epsilon_text(config.norm, config.epsilon);
}

std::string CertifyProcedure::family() const { return kKind; }

std::vector<AttackConfig> CertifyProcedure::data_checks() const {
  return {ball_check(config.norm, config.epsilon)};
}

}  // namespace robustscope

// Procedures: settings, keys, costs and the dispatch over the procedure types.
#include "engine/procedures/procedures.hpp"

#include <torch/types.h>

#include "core/error.hpp"
#include "engine/store/schema.hpp"

namespace robustscope {
namespace {

template <typename... Types>
struct TypeList {};

template <typename Variant>
struct AlternativesOf;
template <typename... Types>
struct AlternativesOf<std::variant<Types...>> {
  using List = TypeList<Types...>;
};

// Calls `visit(Type{})` for every procedure type, in the variant's order.
template <typename Visit, typename... Types>
void for_each_type(TypeList<Types...>, Visit&& visit) {
  (visit(Types{}), ...);
}

template <typename Visit>
void for_each_procedure_type(Visit&& visit) {
  for_each_type(typename AlternativesOf<ProcedureSettings>::List{}, visit);
}

}  // namespace

const char* Procedure::kind() const {
  return std::visit([](const auto& procedure) { return std::decay_t<decltype(procedure)>::kKind; },
                    settings);
}

SettingEntries Procedure::entries() const {
  SettingEntries entries =
      std::visit([](const auto& procedure) { return procedure.entries(); }, settings);
  if (seed) entries["seed"] = static_cast<int64_t>(*seed);
  return entries;
}

std::string Procedure::key() const {
  std::string text;
  for (const auto& [name, value] : entries())
    text += (text.empty() ? "" : ",") + name + "=" + setting_text(value);
  return std::string(kind()) + "(" + text + ")";
}

PassCount Procedure::cost_per_sample() const {
  return std::visit([](const auto& procedure) { return procedure.cost(); }, settings);
}

int64_t Procedure::sample_count(int64_t selected) const {
  if (const auto* landscape = std::get_if<LandscapeProcedure>(&settings))
    return landscape->sample_limit > 0 ? std::min(selected, landscape->sample_limit) : selected;
  return selected;
}

bool Procedure::needs_model() const { return !std::holds_alternative<NoopProcedure>(settings); }

void Procedure::run(TaskContext& context, Record& record) const {
  std::visit([&](const auto& procedure) { procedure.run(context, record); }, settings);
}

std::vector<std::string> procedure_kinds() {
  std::vector<std::string> kinds;
  for_each_procedure_type(
      [&](const auto& type) { kinds.push_back(std::decay_t<decltype(type)>::kKind); });
  return kinds;
}

Headline procedure_headline(const std::string& kind, const Record& record) {
  std::optional<Headline> headline;
  for_each_procedure_type([&](const auto& type) {
    using Type = std::decay_t<decltype(type)>;
    if (kind == Type::kKind) headline = Type::headline(record);
  });
  if (!headline) throw Error::unknown_key("procedure kind", kind, join(procedure_kinds()));
  return *headline;
}

std::vector<std::string> headline_names(const std::string& kind) {
  if (kind == MetricProcedure::kKind) return {schema::kPsiMean, schema::kCleanAccuracy};
  if (kind == CertifyProcedure::kKind)
    return {schema::kPsiUpperMean, schema::kCertifiedAccuracy, schema::kCleanAccuracy};
  if (kind == LandscapeProcedure::kKind) return {schema::kBoundaryDistance};
  if (kind == NoopProcedure::kKind) return {};
  return {schema::kRobustAccuracy, schema::kCleanAccuracy};
}

double mean_of(const torch::Tensor& values) {
  return values.numel() == 0 ? 0.0 : values.to(torch::kFloat64).mean().item<double>();
}

}  // namespace robustscope

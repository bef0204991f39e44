// Tensor comparisons that say how they fail: the largest difference, where it is, and both values
// there (EXPECT_TRUE(torch::allclose(...)) only prints "false").
#pragma once

#include <gtest/gtest.h>
#include <torch/types.h>

#include <sstream>
#include <string>

namespace robustscope::testing {

// Success when |a − b| <= atol + rtol·|b| everywhere (and the shapes match).
inline ::testing::AssertionResult tensors_close(const char* a_text, const char* b_text, const char*,
                                                const char*, const torch::Tensor& a,
                                                const torch::Tensor& b, double atol, double rtol) {
  if (a.sizes() != b.sizes()) {
    return ::testing::AssertionFailure()
           << a_text << " has shape " << a.sizes() << ", " << b_text << " " << b.sizes();
  }
  const torch::Tensor x = a.detach().cpu().to(torch::kFloat64).flatten();
  const torch::Tensor y = b.detach().cpu().to(torch::kFloat64).flatten();
  if (x.numel() == 0) return ::testing::AssertionSuccess();
  const torch::Tensor excess = (x - y).abs() - (atol + rtol * y.abs());
  const torch::Tensor nan_mismatch = x.isnan() != y.isnan();
  const bool nan_ok = !nan_mismatch.any().item<bool>();
  const torch::Tensor excess_finite = torch::nan_to_num(excess, -1.0);
  const int64_t worst = excess_finite.argmax().item<int64_t>();
  if (nan_ok && excess_finite[worst].item<double>() <= 0) return ::testing::AssertionSuccess();
  const int64_t at = nan_ok ? worst : nan_mismatch.to(torch::kInt64).argmax().item<int64_t>();
  std::ostringstream where;
  int64_t rest = at;
  for (int64_t d = a.dim() - 1; d >= 0; --d) {
    where.str(std::to_string(rest % a.size(d)) + (where.str().empty() ? "" : ", ") + where.str());
    rest /= a.size(d);
  }
  return ::testing::AssertionFailure()
         << a_text << " and " << b_text << " differ most at [" << where.str()
         << "]: " << x[at].item<double>() << " vs " << y[at].item<double>() << " (difference "
         << std::abs(x[at].item<double>() - y[at].item<double>()) << ", allowed " << atol << " + "
         << rtol << "·|b|)";
}

inline ::testing::AssertionResult tensors_equal(const char* a_text, const char* b_text,
                                                const torch::Tensor& a, const torch::Tensor& b) {
  if (a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() && torch::equal(a, b))
    return ::testing::AssertionSuccess();
  if (a.sizes() != b.sizes() || a.scalar_type() != b.scalar_type())
    return ::testing::AssertionFailure() << a_text << " is " << a.scalar_type() << a.sizes() << ", "
                                         << b_text << " " << b.scalar_type() << b.sizes();
  return tensors_close(a_text, b_text, "0", "0", a, b, 0, 0);
}

}  // namespace robustscope::testing

#define EXPECT_TENSORS_CLOSE(a, b, atol, rtol) \
  EXPECT_PRED_FORMAT4(robustscope::testing::tensors_close, a, b, atol, rtol)
#define EXPECT_TENSORS_EQUAL(a, b) EXPECT_PRED_FORMAT2(robustscope::testing::tensors_equal, a, b)

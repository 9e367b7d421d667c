#include "preprocess/similarity.hpp"

#include <string>

#include "common/errors.hpp"

namespace kuzet::vision {

namespace {

void centre(const double* p, std::size_t n, double& mx, double& my) {
  mx = my = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    mx += p[2 * i];
    my += p[2 * i + 1];
  }
  mx /= static_cast<double>(n);
  my /= static_cast<double>(n);
}

}  // namespace

std::vector<Matrix3> alignment_matrices(const double* landmarks, std::size_t m, std::size_t points,
                                        const double* template_points) {
  double tx_mean, ty_mean;
  centre(template_points, points, tx_mean, ty_mean);
  std::vector<Matrix3> out(m);
  for (std::size_t k = 0; k < m; ++k) {
    const double* src = landmarks + 2 * points * k;
    double sx_mean, sy_mean;
    centre(src, points, sx_mean, sy_mean);
    double var = 0.0, dot = 0.0, cross = 0.0;
    for (std::size_t i = 0; i < points; ++i) {
      const double x = src[2 * i] - sx_mean, y = src[2 * i + 1] - sy_mean;
      const double u = template_points[2 * i] - tx_mean, v = template_points[2 * i + 1] - ty_mean;
      var += x * x + y * y;
      dot += x * u + y * v;
      cross += x * v - y * u;
    }
    const double a = var > 0.0 ? dot / var : 0.0, b = var > 0.0 ? cross / var : 0.0;
    const double det = a * a + b * b;
    if (!(det >= 1e-12))  // also NaN landmarks
      throw InvalidArgument("landmarks[" + std::to_string(k) +
                            "] are degenerate (all points equal, or not finite): cannot align");
    // forward: source -> template, [[a, -b, tx], [b, a, ty]]; its inverse in closed form.
    const double tx = tx_mean - a * sx_mean + b * sy_mean, ty = ty_mean - b * sx_mean - a * sy_mean;
    const double ia = a / det, ib = b / det;
    out[k] = {ia, ib, -(ia * tx + ib * ty), -ib, ia, ib * tx - ia * ty, 0.0, 0.0, 1.0};
  }
  return out;
}

}  // namespace kuzet::vision

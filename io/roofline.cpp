// Roofline chart with OpenCV (see roofline.h).
#include "io/roofline.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "kernels/error.h"

namespace glia::io {

void write_roofline_png(const std::string& path, const std::vector<RooflinePoint>& points, double peak_gflops,
                        double stream_gbs, const std::string& title, int labelled) {
  GLIA_CHECK(peak_gflops > 0 && stream_gbs > 0, "roofline '" << path << "': the ceilings must be positive (peak "
                                                             << peak_gflops << " GFLOP/s, " << stream_gbs << " GB/s)");
  std::vector<RooflinePoint> pts;
  for (const auto& p : points)
    if (p.intensity > 0 && p.gflops > 0) pts.push_back(p);
  // Axes: decades covering the points and the ridge point.
  const double ridge = peak_gflops / stream_gbs;
  double xmin = std::min(ridge / 100, 0.01), xmax = std::max(ridge * 10, 10.0);
  double ymin = peak_gflops / 1e4, ymax = peak_gflops * 2;
  for (const auto& p : pts) {
    xmin = std::min(xmin, p.intensity / 2), xmax = std::max(xmax, p.intensity * 2);
    ymin = std::min(ymin, p.gflops / 2);
  }
  const double lx0 = std::floor(std::log10(xmin)), lx1 = std::ceil(std::log10(xmax));
  const double ly0 = std::floor(std::log10(ymin)), ly1 = std::ceil(std::log10(ymax));
  const int w = 1000, h = 700, left = 80, right = 20, top = 40, bottom = 60;
  cv::Mat img(h, w, CV_8UC3, cv::Scalar(255, 255, 255));
  auto px = [&](double x, double y) {
    const double fx = (std::log10(x) - lx0) / (lx1 - lx0), fy = (std::log10(y) - ly0) / (ly1 - ly0);
    return cv::Point(left + int(fx * (w - left - right)), h - bottom - int(fy * (h - top - bottom)));
  };
  const cv::Scalar black(0, 0, 0), gray(200, 200, 200), red(40, 40, 220), blue(200, 90, 30);
  auto text = [&](const std::string& s, cv::Point at, double scale = 0.45, cv::Scalar c = cv::Scalar(0, 0, 0)) {
    cv::putText(img, s, at, cv::FONT_HERSHEY_SIMPLEX, scale, c, 1, cv::LINE_AA);
  };
  char buf[64];
  for (double d = lx0; d <= lx1; ++d) {
    cv::line(img, px(std::pow(10, d), std::pow(10, ly0)), px(std::pow(10, d), std::pow(10, ly1)), gray);
    std::snprintf(buf, sizeof buf, "1e%g", d);
    text(buf, px(std::pow(10, d), std::pow(10, ly0)) + cv::Point(-12, 18));
  }
  for (double d = ly0; d <= ly1; ++d) {
    cv::line(img, px(std::pow(10, lx0), std::pow(10, d)), px(std::pow(10, lx1), std::pow(10, d)), gray);
    std::snprintf(buf, sizeof buf, "1e%g", d);
    text(buf, px(std::pow(10, lx0), std::pow(10, d)) + cv::Point(-50, 5));
  }
  text("FLOPs per byte (arithmetic intensity)", cv::Point(w / 2 - 150, h - 15));
  text("GFLOP/s", cv::Point(10, top - 10));
  text(title, cv::Point(left + 100, top - 15), 0.5);
  // The roof: bandwidth-bound up to the ridge, compute-bound after.
  cv::line(img, px(std::pow(10, lx0), std::pow(10, lx0) * stream_gbs), px(ridge, peak_gflops), red, 2, cv::LINE_AA);
  cv::line(img, px(ridge, peak_gflops), px(std::pow(10, lx1), peak_gflops), red, 2, cv::LINE_AA);
  std::snprintf(buf, sizeof buf, "%.3g GFLOP/s, %.3g GB/s", peak_gflops, stream_gbs);
  text(buf, px(ridge, peak_gflops) + cv::Point(10, -8), 0.45, red);
  std::vector<size_t> order(pts.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return pts[a].share > pts[b].share; });
  for (size_t k = 0; k < order.size(); ++k) {
    const auto& p = pts[order[k]];
    const int radius = 3 + int(std::sqrt(std::max(p.share, 0.0)) * 20);
    cv::circle(img, px(p.intensity, p.gflops), radius, blue, 1, cv::LINE_AA);
    if (static_cast<int>(k) < labelled) text(p.label, px(p.intensity, p.gflops) + cv::Point(radius + 2, 4), 0.38);
  }
  // Written here: the PNG helpers of the report plots live in apps/, a floor above io/.
  bool ok = false;
  try {
    ok = cv::imwrite(path, img);
  } catch (const cv::Exception& e) {
    GLIA_FAIL("cannot write image " << path << ": " << e.what());
  }
  GLIA_CHECK(ok, "cannot write image " << path);
}

}  // namespace glia::io

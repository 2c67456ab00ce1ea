#include "apps/plots.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <limits>
#include <sstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "kernels/error.h"

namespace glia::app {
namespace {

const cv::Scalar kBlack(0, 0, 0), kGray(160, 160, 160), kWhite(255, 255, 255);
const cv::Scalar kBlue(200, 90, 30), kOrange(20, 140, 240);

void text(cv::Mat& img, const std::string& s, cv::Point at, double scale = 0.45, cv::Scalar colour = kBlack) {
  cv::putText(img, s, at, cv::FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv::LINE_AA);
}

std::string fmt(double v, int precision = 3) {
  std::ostringstream s;
  s << std::setprecision(precision) << v;
  return s.str();
}

// One line chart of two series (train and validation) in `area` of `img`.
void draw_panel(cv::Mat& img, cv::Rect area, const std::string& title, const std::vector<double>& train,
                const std::vector<double>& val) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto* series : {&train, &val})
    for (double v : *series)
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  if (hi - lo < 1e-12) lo -= 0.5, hi += 0.5;
  const double pad = 0.05 * (hi - lo);
  lo -= pad;
  hi += pad;
  const int left = area.x + 55, right = area.x + area.width - 15, top = area.y + 30, bottom = area.y + area.height - 40;
  cv::rectangle(img, cv::Point(left, top), cv::Point(right, bottom), kGray, 1);
  text(img, title, cv::Point(left, area.y + 20), 0.55);
  const size_t n = std::max(train.size(), val.size());
  auto px = [&](size_t i) { return n <= 1 ? (left + right) / 2 : left + static_cast<int>((right - left) * i / (n - 1)); };
  auto py = [&](double v) { return bottom - static_cast<int>((bottom - top) * (v - lo) / (hi - lo)); };
  for (int k = 0; k <= 4; ++k) {
    const double v = lo + (hi - lo) * k / 4;
    const int y = py(v);
    cv::line(img, cv::Point(left - 4, y), cv::Point(left, y), kGray);
    text(img, fmt(v), cv::Point(area.x + 2, y + 4), 0.35);
  }
  for (size_t i = 0; i < n; i += std::max<size_t>(1, n / 10))
    text(img, std::to_string(i + 1), cv::Point(px(i) - 4, bottom + 15), 0.35);
  text(img, "epoch", cv::Point((left + right) / 2 - 20, bottom + 32), 0.4);
  auto plot = [&](const std::vector<double>& s, cv::Scalar colour) {
    for (size_t i = 0; i < s.size(); ++i) {
      if (!std::isfinite(s[i])) continue;
      cv::circle(img, cv::Point(px(i), py(s[i])), 3, colour, cv::FILLED, cv::LINE_AA);
      if (i > 0 && std::isfinite(s[i - 1]))
        cv::line(img, cv::Point(px(i - 1), py(s[i - 1])), cv::Point(px(i), py(s[i])), colour, 2, cv::LINE_AA);
    }
  };
  plot(train, kBlue);
  plot(val, kOrange);
  cv::line(img, cv::Point(right - 120, top + 12), cv::Point(right - 100, top + 12), kBlue, 2);
  text(img, "train", cv::Point(right - 95, top + 16), 0.4);
  cv::line(img, cv::Point(right - 120, top + 28), cv::Point(right - 100, top + 28), kOrange, 2);
  text(img, "validation", cv::Point(right - 95, top + 32), 0.4);
}

void draw_outline(cv::Mat& bgr, const uint8_t* mask, int height, int width, cv::Scalar colour) {
  cv::Mat m(height, width, CV_8UC1);
  for (int i = 0; i < height * width; ++i) m.data[i] = mask[i] ? 255 : 0;
  if (bgr.rows != height) cv::resize(m, m, bgr.size(), 0, 0, cv::INTER_NEAREST);
  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(m, contours, cv::RETR_LIST, cv::CHAIN_APPROX_NONE);
  cv::drawContours(bgr, contours, -1, colour, 1, cv::LINE_8);
}

}  // namespace

void write_png(const std::string& path, const cv::Mat& image) {
  bool ok = false;
  try {
    ok = cv::imwrite(path, image);
  } catch (const cv::Exception& e) {
    GLIA_FAIL("cannot write image " << path << ": " << e.what());
  }
  GLIA_CHECK(ok, "cannot write image " << path);
}

void write_confusion_png(const std::string& path, const ConfusionMatrix& cm, const std::vector<std::string>& names) {
  const int k = cm.num_classes();
  GLIA_CHECK(static_cast<int>(names.size()) == k,
             "confusion plot: " << names.size() << " class names for " << k << " classes");
  const int cell = 90, left = 120, top = 60;
  cv::Mat img(top + k * cell + 50, left + k * cell + 20, CV_8UC3, kWhite);
  text(img, "confusion matrix (rows: true, columns: predicted)", cv::Point(10, 20), 0.5);
  text(img, "accuracy " + fmt(cm.accuracy(), 4) + ", " + std::to_string(cm.total()) + " images", cv::Point(10, 42),
       0.45);
  for (int t = 0; t < k; ++t) {
    int64_t row = 0;
    for (int p = 0; p < k; ++p) row += cm.count(t, p);
    for (int p = 0; p < k; ++p) {
      const double frac = row > 0 ? static_cast<double>(cm.count(t, p)) / row : 0;
      const int shade = static_cast<int>(255 * (1 - frac));
      const cv::Rect r(left + p * cell, top + t * cell, cell, cell);
      cv::rectangle(img, r, cv::Scalar(255, shade, shade), cv::FILLED);
      cv::rectangle(img, r, kGray, 1);
      const cv::Scalar ink = frac > 0.5 ? kWhite : kBlack;
      text(img, std::to_string(cm.count(t, p)), cv::Point(r.x + 10, r.y + 40), 0.6, ink);
      text(img, fmt(100 * frac, 3) + "%", cv::Point(r.x + 10, r.y + 65), 0.4, ink);
    }
    text(img, names[static_cast<size_t>(t)], cv::Point(5, top + t * cell + cell / 2 + 5), 0.45);
    text(img, names[static_cast<size_t>(t)], cv::Point(left + t * cell + 5, top + k * cell + 20), 0.4);
  }
  write_png(path, img);
}

void write_curves_png(const std::string& path, const std::vector<HistoryRow>& history, const std::string& metric) {
  GLIA_CHECK(!history.empty(), "curves plot " << path << ": no epochs in the history");
  std::vector<double> loss, val_loss, m, val_m;
  for (const auto& r : history) {
    loss.push_back(r.loss);
    val_loss.push_back(r.val_loss);
    m.push_back(r.metric);
    val_m.push_back(r.val_metric);
  }
  cv::Mat img(360, 960, CV_8UC3, kWhite);
  draw_panel(img, cv::Rect(0, 0, 480, 360), "loss", loss, val_loss);
  draw_panel(img, cv::Rect(480, 0, 480, 360), metric, m, val_m);
  write_png(path, img);
}

cv::Mat overlay_image(const float* chw, int channels, int height, int width, const uint8_t* mask, const uint8_t* truth,
                      int gray_channel) {
  GLIA_CHECK(channels == 1 || channels == 3, "overlay: " << channels << " channels, need 1 or 3");
  const size_t plane = static_cast<size_t>(height) * width;
  cv::Mat bgr(height, width, CV_8UC3);
  auto to8 = [](float v) { return static_cast<uint8_t>(std::clamp(v, 0.0f, 1.0f) * 255.0f + 0.5f); };
  for (size_t i = 0; i < plane; ++i) {
    uint8_t* px = bgr.data + 3 * i;
    if (channels == 1 || gray_channel >= 0) {
      const int c = channels == 1 ? 0 : gray_channel;
      px[0] = px[1] = px[2] = to8(chw[static_cast<size_t>(c) * plane + i]);
    } else {
      px[0] = to8(chw[2 * plane + i]);
      px[1] = to8(chw[plane + i]);
      px[2] = to8(chw[i]);
    }
  }
  // Small model inputs (64-128 px) are enlarged so the outlines can be seen.
  const int scale = std::max(1, 256 / std::max(height, width));
  if (scale > 1) cv::resize(bgr, bgr, cv::Size(width * scale, height * scale), 0, 0, cv::INTER_NEAREST);
  if (truth) draw_outline(bgr, truth, height, width, cv::Scalar(0, 220, 0));
  if (mask) draw_outline(bgr, mask, height, width, cv::Scalar(0, 0, 255));
  return bgr;
}

void write_mask_png(const std::string& path, const uint8_t* mask, int height, int width) {
  cv::Mat m(height, width, CV_8UC1);
  for (int i = 0; i < height * width; ++i) m.data[i] = mask[i] ? 255 : 0;
  write_png(path, m);
}

}  // namespace glia::app

// Writes a small seed corpus for fuzz_decode: every format and colour mode glia reads.
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const std::string dir = argv[1];
  cv::Mat gray(9, 7, CV_8UC1), bgr(6, 5, CV_8UC3), bgra(4, 6, CV_8UC4), deep(5, 5, CV_16UC1);
  cv::randu(gray, 0, 255);
  cv::randu(bgr, 0, 255);
  cv::randu(bgra, 0, 255);
  cv::randu(deep, 0, 65535);
  int n = 0;
  auto put = [&](const std::string& ext, const cv::Mat& m, const std::vector<int>& params = {}) {
    return cv::imwrite(dir + "/seed" + std::to_string(n++) + ext, m, params);
  };
  bool ok = put(".png", gray) && put(".png", bgr) && put(".png", bgra) && put(".png", deep) &&
            put(".jpg", gray) && put(".jpg", bgr) && put(".bmp", bgr) &&
            put(".tif", bgr, {cv::IMWRITE_TIFF_COMPRESSION, 1}) && put(".tif", bgr, {cv::IMWRITE_TIFF_COMPRESSION, 8}) &&
            put(".tif", gray, {cv::IMWRITE_TIFF_COMPRESSION, 8});
  return ok ? 0 : 1;
}

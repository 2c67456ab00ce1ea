// Synthetic MRI-like slices with an exact tumour mask, for the demo, for tests and for
// users without data. A slice has a head outline (bright scalp, dark bone and CSF: the
// "skull ring"), brain tissue with smooth texture, ventricles and a midline, Gaussian
// noise, and a tumour whose look depends on the class:
//   glioma      irregular, infiltrative (a faint non-mask oedema halo), heterogeneous with
//               a darker necrotic core, inside one hemisphere;
//   meningioma  round, bright, homogeneous, sharply bounded, at the brain surface
//               against the skull;
//   pituitary   small, bright, on the midline below the centre (sella region);
//   notumor     none (empty mask).
// The mask is exactly the set of pixels painted as tumour. Everything is drawn from
// seeded Philox streams, so (seed, class, index) always gives the same slice.
#pragma once
#include <cstdint>
#include <string>

#include <opencv2/core.hpp>

namespace glia::io {

struct Phantom {
  cv::Mat image;  // CV_32FC1, values in [0, 1]
  cv::Mat mask;   // CV_8UC1, 1 = tumour, 0 elsewhere
  int label = 2;  // tumour_class_names() order: glioma, meningioma, notumor, pituitary
};

struct PhantomSpec {
  int label = 2;
  int size = 256;
  uint64_t seed = 0;
  uint64_t anatomy_id = 0;    // head shape, tumour placement and shape
  uint64_t noise_id = 0;      // pixel noise (differs per slice of one phantom patient)
  float tumour_scale = 1.0f;  // 0..1: shrinks the tumour (0 = no tumour drawn)
};

Phantom make_phantom(const PhantomSpec& spec);

// Writes <root>/Training/<class>/Ph-<class>_<i>.jpg (and Testing/ when test_per_class >
// 0). The files are PNG inside, named .jpg like some files of the real dataset, so the
// decoder must go by content.
void write_classification_phantoms(const std::string& root, int train_per_class, int test_per_class, int size,
                                   uint64_t seed);

// How write_segmentation_phantoms draws its slices.
//   lgg             like the LGG data: gliomas only, 3 channels with the tumour brighter in
//                   the middle "FLAIR" channel;
//   classification  like write_classification_phantoms: the gray slice in all three
//                   channels, and patient i has a glioma, a meningioma or a pituitary
//                   tumour by i % 3 — so a U-Net trained on them outlines the tumours of
//                   the classification phantoms (glia demo).
enum class SegmentationPhantomLook { lgg, classification };

// Writes the LGG layout: <root>/TCGA_PH_<id>_20000101/TCGA_PH_<id>_20000101_<slice>.tif
// (3 channels) and ..._mask.tif (1 channel, 0/255). Tumours in the middle third of the
// slices, growing towards the centre slice; the other slices have no tumour. deflate:
// compressed like the copy in ../shared/data, else uncompressed like the published files.
void write_segmentation_phantoms(const std::string& root, int patients, int slices, int size, uint64_t seed,
                                 bool deflate = true,
                                 SegmentationPhantomLook look = SegmentationPhantomLook::lgg);

}  // namespace glia::io

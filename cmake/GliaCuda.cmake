# Decide GLIA_HAVE_CUDA / GLIA_HAVE_CUDNN from the options. Detection looks for the
# compiler and libraries only, never for a GPU: CUDA code must build on machines without one.
set(GLIA_HAVE_CUDA OFF)
set(GLIA_HAVE_CUDNN OFF)
if(NOT GLIA_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES "80;90" CACHE STRING "CUDA architectures (explicit list; never detected)")
    endif()
    enable_language(CUDA)
    set(CMAKE_CUDA_STANDARD 17)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    find_package(CUDAToolkit REQUIRED)
    set(GLIA_HAVE_CUDA ON)
  elseif(GLIA_CUDA STREQUAL "ON")
    message(FATAL_ERROR "GLIA_CUDA=ON but no CUDA compiler (nvcc) was found")
  endif()
endif()
if(GLIA_HAVE_CUDA AND NOT GLIA_CUDNN STREQUAL "OFF")
  # cuDNN lives in one of: the system (Debian/Ubuntu's libcudnn9-dev-cuda-*), the toolkit
  # folder (NVIDIA's tarball copied there), CUDNN_ROOT / CUDNN_PATH, or a pip wheel
  # (nvidia-cudnn-cu12/13: site-packages/nvidia/cudnn/{include,lib}, whose library has
  # only the versioned name libcudnn.so.9).
  set(glia_cudnn_roots $ENV{CUDNN_ROOT} $ENV{CUDNN_PATH} ${CUDAToolkit_LIBRARY_ROOT})
  find_program(glia_cudnn_python NAMES python3)
  if(glia_cudnn_python)
    execute_process(
      COMMAND ${glia_cudnn_python} -c "import importlib.util as u; s = u.find_spec('nvidia.cudnn'); print(list(s.submodule_search_locations)[0] if s else '')"
      OUTPUT_VARIABLE glia_cudnn_pip OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(glia_cudnn_pip)
      list(APPEND glia_cudnn_roots ${glia_cudnn_pip})
    endif()
  endif()
  find_path(GLIA_CUDNN_INCLUDE cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS} ${glia_cudnn_roots}
            PATH_SUFFIXES include PATHS /usr/local/include /usr/include)
  find_library(GLIA_CUDNN_LIBRARY NAMES cudnn libcudnn.so.9 HINTS ${CUDAToolkit_LIBRARY_DIR} ${glia_cudnn_roots}
               PATH_SUFFIXES lib lib64 PATHS /usr/local/lib /usr/lib/x86_64-linux-gnu)
  if(GLIA_CUDNN_INCLUDE AND GLIA_CUDNN_LIBRARY)
    set(GLIA_HAVE_CUDNN ON)
  elseif(GLIA_CUDNN STREQUAL "ON")
    message(FATAL_ERROR "GLIA_CUDNN=ON but cudnn.h / libcudnn were not found (looked in the CUDA toolkit, "
                        "/usr, /usr/local, CUDNN_ROOT, CUDNN_PATH and python3's nvidia-cudnn wheel: "
                        "include '${GLIA_CUDNN_INCLUDE}', library '${GLIA_CUDNN_LIBRARY}')")
  endif()
elseif(GLIA_CUDNN STREQUAL "ON")
  message(FATAL_ERROR "GLIA_CUDNN=ON needs GLIA_CUDA (no CUDA compiler found or GLIA_CUDA=OFF)")
endif()
